"""Per-guild moderation settings: the ``GuildPolicy`` value and the registry of its keys.

The defaults live in exactly one place, the field defaults of ``GuildPolicy``; the registry adds,
for each field, the kind of value, a description and the parser used by ``/mod settings set``.
A test keeps the two in step (one key per field).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from bot.moderation.errors import SettingError
from bot.moderation.limits import Limits, RoleLimits, merge_limits
from bot.moderation.setting_kinds import (
    BoolKind,
    EnumKind,
    IdSetKind,
    IntKind,
    Kind,
    OptionalIdKind,
    RoleOverridesKind,
    TemplateIdsKind,
    TermsKind,
)


class ReviewMode(StrEnum):
    """Whose requests wait for a moderator before they run."""

    OFF = "off"
    FLAGGED = "flagged"
    NEW_MEMBERS = "new_members"
    EVERYONE = "everyone"


class ScreeningAction(StrEnum):
    """What happens to an output image the screener judges NSFW, outside age-restricted channels."""

    SPOILER = "spoiler"
    REVIEW = "review"
    BLOCK = "block"


def _empty() -> Mapping[Any, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class GuildPolicy:
    """Everything moderation needs to know about one guild. Field defaults are the bot's defaults."""

    allowed_channels: frozenset[int] = frozenset()
    moderator_roles: frozenset[int] = frozenset()
    moderators_exempt: bool = True
    review_mode: ReviewMode = ReviewMode.FLAGGED
    new_member_account_days: int = 7
    new_member_guild_days: int = 1
    new_member_role: int | None = None
    review_channel: int | None = None
    mod_log_channel: int | None = None
    max_queued_per_user: int = 3
    cooldown_seconds: int = 10
    daily_jobs: int = 100
    daily_gpu_seconds: int = 0
    role_overrides: Mapping[int, RoleLimits] = field(default_factory=_empty)
    template_channels: Mapping[str, frozenset[int]] = field(default_factory=_empty)
    template_roles: Mapping[str, frozenset[int]] = field(default_factory=_empty)
    nsfw_output_action: ScreeningAction = ScreeningAction.BLOCK
    use_builtin_blocklist: bool = True
    blocked_terms: tuple[str, ...] = ()
    review_terms: tuple[str, ...] = ()

    def limits_for(self, role_ids: Iterable[int]) -> Limits:
        """The limits and lane for a member with these roles."""
        base = Limits(
            max_queued=self.max_queued_per_user,
            cooldown_seconds=self.cooldown_seconds,
            daily_jobs=self.daily_jobs,
            daily_gpu_seconds=self.daily_gpu_seconds,
        )
        return merge_limits(base, (self.role_overrides[r] for r in role_ids if r in self.role_overrides))


DEFAULT_POLICY: Final = GuildPolicy()


@dataclass(frozen=True, slots=True)
class SettingKey:
    """One setting a moderator can change: its name, kind of value and what it does."""

    name: str
    kind: Kind[Any]
    description: str

    @property
    def default(self) -> Any:
        """The value a guild has until a moderator changes it."""
        return getattr(DEFAULT_POLICY, self.name)

    def parse(self, text: str) -> Any:
        """The value a moderator typed, or SettingError saying what is expected."""
        try:
            return self.kind.parse(text)
        except ValueError as exc:
            raise SettingError(self.name, str(exc)) from None

    def show(self, value: Any) -> str:
        """A value as moderators read it."""
        return self.kind.show(value)


_CHANNEL = "channel"
_ROLE = "role"
_LIMIT = IntKind(0, 1_000_000, zero_means="no limit")

_KEYS: Final = (
    SettingKey(
        "allowed_channels",
        IdSetKind(_CHANNEL),
        "Channels where members may use the bot; none means every channel.",
    ),
    SettingKey(
        "moderator_roles",
        IdSetKind(_ROLE),
        "Roles that count as moderators, besides Manage Messages, Manage Server and Administrator.",
    ),
    SettingKey(
        "moderators_exempt",
        BoolKind(),
        "Moderators skip channel and role restrictions, limits, quotas and review "
        "(never bans, blocked terms or the age-restricted channel rule).",
    ),
    SettingKey(
        "review_mode",
        EnumKind(ReviewMode),
        "Who waits for a moderator: off (nobody; prompts matching review_terms are refused), flagged "
        "(prompts matching review_terms), new_members (those, and new members), everyone.",
    ),
    SettingKey(
        "new_member_account_days",
        IntKind(0, 365, "days", zero_means="off"),
        "In new_members review mode, accounts younger than this are new members.",
    ),
    SettingKey(
        "new_member_guild_days",
        IntKind(0, 365, "days", zero_means="off"),
        "In new_members review mode, members who joined the server more recently are new members.",
    ),
    SettingKey(
        "new_member_role",
        OptionalIdKind(_ROLE),
        "In new_members review mode, members without this role (e.g. a verified role) are new members.",
    ),
    SettingKey("review_channel", OptionalIdKind(_CHANNEL), "Where requests waiting for review are posted."),
    SettingKey("mod_log_channel", OptionalIdKind(_CHANNEL), "Where moderation actions are logged."),
    SettingKey(
        "max_queued_per_user",
        IntKind(0, 100, "jobs", zero_means="no limit"),
        "Jobs one member may have waiting or running at once.",
    ),
    SettingKey(
        "cooldown_seconds",
        IntKind(0, 86_400, "seconds", zero_means="off"),
        "Seconds a member waits between two requests.",
    ),
    SettingKey("daily_jobs", _LIMIT, "Jobs one member may start per day (days start at 00:00 UTC)."),
    SettingKey(
        "daily_gpu_seconds",
        _LIMIT,
        "GPU seconds one member may use per day (days start at 00:00 UTC).",
    ),
    SettingKey(
        "role_overrides",
        RoleOverridesKind(),
        "Different limits and lane for members with a role, e.g. "
        "'<@&booster> lane=priority daily_jobs=300 cooldown=0'. With several such roles the most "
        "generous value wins.",
    ),
    SettingKey(
        "template_channels",
        TemplateIdsKind(_CHANNEL),
        "Channels where a template may be used, e.g. 'upscale=<#art>'; templates not listed: anywhere.",
    ),
    SettingKey(
        "template_roles",
        TemplateIdsKind(_ROLE),
        "Roles allowed to use a template, e.g. 'video=<@&patron>'; templates not listed: everyone.",
    ),
    SettingKey(
        "nsfw_output_action",
        EnumKind(ScreeningAction),
        "What happens to generated images the screener finds NSFW outside age-restricted channels: "
        "spoiler, review or block.",
    ),
    SettingKey(
        "use_builtin_blocklist",
        BoolKind(),
        "Also block the bot's short built-in list of terms for content no server allows.",
    ),
    SettingKey(
        "blocked_terms",
        TermsKind(),
        "Prompts containing one of these are refused. Whole words, wild*cards, phrases, or re:regex.",
    ),
    SettingKey(
        "review_terms",
        TermsKind(),
        "Prompts containing one of these wait for a moderator. Same syntax as blocked_terms.",
    ),
)

SETTINGS: Final[Mapping[str, SettingKey]] = MappingProxyType({key.name: key for key in _KEYS})
"""Every setting, by name, in the order moderators see them."""

TERM_LIST_KEYS: Final = ("blocked_terms", "review_terms")


def setting_key(name: str) -> SettingKey:
    """The setting called ``name`` (case and dashes forgiven), or SettingError suggesting one."""
    normalized = name.strip().casefold().replace("-", "_").replace(" ", "_")
    key = SETTINGS.get(normalized)
    if key is not None:
        return key
    close = difflib.get_close_matches(normalized, list(SETTINGS), n=1)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    raise SettingError(name.strip(), f"there is no such setting.{hint}")


def parse_setting(name: str, text: str) -> tuple[SettingKey, Any]:
    """Read ``/mod settings set name text``: the key and its new value, or SettingError."""
    key = setting_key(name)
    return key, key.parse(text)


def with_value(policy: GuildPolicy, name: str, value: Any) -> GuildPolicy:
    """A copy of ``policy`` with one setting changed."""
    return dataclasses.replace(policy, **{setting_key(name).name: value})
