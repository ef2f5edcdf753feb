"""Loading and saving each guild's ``GuildPolicy`` through the guild settings table."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any, Final

from bot.moderation.errors import SettingError
from bot.moderation.setting_kinds import TermsKind
from bot.moderation.settings import DEFAULT_POLICY, SETTINGS, TERM_LIST_KEYS, GuildPolicy, setting_key
from bot.moderation.terms import split_terms
from bot.storage import GuildSettingsRepository

log = logging.getLogger(__name__)

KEY_PREFIX: Final = "moderation."
"""Moderation keys share the guild settings table with other features; the prefix keeps them apart."""


@dataclass(frozen=True, slots=True)
class SettingChange:
    """One setting before and after a change, as values and as moderators read them."""

    key: str
    old: Any
    new: Any

    @property
    def old_text(self) -> str:
        """The old value as moderators read it."""
        return SETTINGS[self.key].show(self.old)

    @property
    def new_text(self) -> str:
        """The new value as moderators read it."""
        return SETTINGS[self.key].show(self.new)

    @property
    def changed(self) -> bool:
        """Whether the value is actually different."""
        return bool(self.old != self.new)


class PolicyStore:
    """Reads and writes guild policies; a key never set has its default, nothing is written for it."""

    def __init__(self, settings: GuildSettingsRepository) -> None:
        self._settings = settings

    async def load(self, guild_id: int | None) -> GuildPolicy:
        """The guild's policy; DMs and the CLI (no guild) get the defaults."""
        if guild_id is None:
            return DEFAULT_POLICY
        stored = await self._settings.all_for_guild(guild_id)
        values: dict[str, Any] = {}
        for storage_key, raw in stored.items():
            if not storage_key.startswith(KEY_PREFIX):
                continue
            name = storage_key.removeprefix(KEY_PREFIX)
            key = SETTINGS.get(name)
            if key is None:
                log.warning("guild=%s ignores unknown moderation setting %r", guild_id, name)
                continue
            try:
                values[name] = key.kind.load(raw)
            except (TypeError, ValueError) as exc:
                # A hand-edited or older row must not lock a guild out: fall back to the default.
                log.warning("guild=%s setting %s is unreadable (%s); using the default", guild_id, name, exc)
        return dataclasses.replace(DEFAULT_POLICY, **values)

    async def set_text(self, guild_id: int, name: str, text: str) -> SettingChange:
        """Set a setting from what a moderator typed; SettingError if it does not parse."""
        key = setting_key(name)
        return await self.set_value(guild_id, key.name, key.parse(text))

    async def set_value(self, guild_id: int, name: str, value: Any) -> SettingChange:
        """Store an already parsed value (it must be of the setting's kind)."""
        key = setting_key(name)
        old = await self.get(guild_id, key.name)
        await self._settings.set(guild_id, KEY_PREFIX + key.name, key.kind.dump(value))
        return SettingChange(key.name, old, value)

    async def reset(self, guild_id: int, name: str) -> SettingChange:
        """Go back to the default value."""
        key = setting_key(name)
        old = await self.get(guild_id, key.name)
        await self._settings.delete(guild_id, KEY_PREFIX + key.name)
        return SettingChange(key.name, old, key.default)

    async def get(self, guild_id: int, name: str) -> Any:
        """The current value of one setting."""
        return getattr(await self.load(guild_id), setting_key(name).name)

    async def add_terms(self, guild_id: int, name: str, text: str) -> SettingChange:
        """Add terms (same syntax as setting the list) to ``blocked_terms`` or ``review_terms``."""
        key = self._term_key(name)
        current: tuple[str, ...] = await self.get(guild_id, key)
        try:
            merged = TermsKind.check([*current, *split_terms(text)])
        except ValueError as exc:
            raise SettingError(key, str(exc)) from None
        return await self.set_value(guild_id, key, merged)

    async def remove_terms(self, guild_id: int, name: str, text: str) -> SettingChange:
        """Remove terms, compared as written but ignoring case; unknown terms are an error."""
        key = self._term_key(name)
        current: tuple[str, ...] = await self.get(guild_id, key)
        gone = {t.casefold() for t in split_terms(text)}
        missing = gone - {t.casefold() for t in current}
        if missing:
            raise SettingError(key, f"not in the list: {', '.join(sorted(missing))}.")
        return await self.set_value(guild_id, key, tuple(t for t in current if t.casefold() not in gone))

    @staticmethod
    def _term_key(name: str) -> str:
        key = setting_key(name).name
        if key not in TERM_LIST_KEYS:
            raise SettingError(key, "terms can only be added to blocked_terms or review_terms.")
        return key
