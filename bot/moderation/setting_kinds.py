"""Value kinds of guild settings: how each reads a moderator's text, stores JSON and shows a value.

A kind's ``parse`` raises ValueError with a message that completes "`key`: ..." (the SettingError
adds the key); ``load`` raises ValueError or TypeError for stored JSON it cannot use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, Generic, Protocol, TypeVar

from bot.moderation.errors import ModerationError
from bot.moderation.limits import LANES, RoleLimits
from bot.moderation.terms import parse_terms, split_terms

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)

_CLEAR_WORDS: Final = frozenset({"none", "off", "clear", "-", "no", "nothing"})
_TRUE: Final = frozenset({"on", "true", "yes", "1", "enable", "enabled"})
_FALSE: Final = frozenset({"off", "false", "no", "0", "disable", "disabled"})
# A bare id, or the Discord mention of a channel (<#id>) or of a role (<@&id>).
_ID: Final = re.compile(r"^(?:<(#|@&)(\d{1,20})>|(\d{1,20}))$")
_MENTION_PREFIX: Final = {"channel": "#", "role": "@&"}
_TEMPLATE_NAME: Final = re.compile(r"^[\w-]{1,32}$")


class Kind(Protocol[T]):
    """How one setting's values are read, stored and shown."""

    @property
    def type_name(self) -> str: ...

    def parse(self, text: str) -> T: ...

    def dump(self, value: T) -> Any: ...

    def load(self, raw: Any) -> T: ...

    def show(self, value: T) -> str: ...


def _parse_id(token: str, what: str) -> int:
    match = _ID.match(token.strip())
    value = 0
    if match and match.group(1) in (None, _MENTION_PREFIX[what]):
        value = int(match.group(2) or match.group(3))
    if value <= 0:
        raise ValueError(f"'{token.strip()}' is not a {what} id or mention.")
    return value


def _mention(value: int, what: str) -> str:
    return f"<#{value}>" if what == "channel" else f"<@&{value}>"


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[\s,]+", text.strip()) if t]


@dataclass(frozen=True, slots=True)
class BoolKind:
    """on/off."""

    type_name: str = "on/off"

    def parse(self, text: str) -> bool:
        word = text.strip().casefold()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ValueError(f"expected on or off, got '{text.strip()}'.")

    def dump(self, value: bool) -> Any:
        return value

    def load(self, raw: Any) -> bool:
        if not isinstance(raw, bool):
            raise TypeError("not a boolean")
        return raw

    def show(self, value: bool) -> str:
        return "on" if value else "off"


@dataclass(frozen=True, slots=True)
class IntKind:
    """A whole number in a range; ``zero_means`` names what 0 stands for (e.g. "no limit")."""

    minimum: int
    maximum: int
    unit: str = ""
    zero_means: str | None = None

    @property
    def type_name(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        zero = f", 0 = {self.zero_means}" if self.zero_means else ""
        return f"whole number{unit} from {self.minimum} to {self.maximum}{zero}"

    def parse(self, text: str) -> int:
        word = text.strip().casefold().replace("_", "")
        if self.zero_means and word in _CLEAR_WORDS | {"unlimited"}:
            return 0
        try:
            value = int(word)
        except ValueError:
            raise ValueError(f"expected a {self.type_name}, got '{text.strip()}'.") from None
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"expected a {self.type_name}, got {value}.")
        return value

    def dump(self, value: int) -> Any:
        return value

    def load(self, raw: Any) -> int:
        if not isinstance(raw, int) or isinstance(raw, bool) or not self.minimum <= raw <= self.maximum:
            raise ValueError("out of range")
        return raw

    def show(self, value: int) -> str:
        if value == 0 and self.zero_means:
            return self.zero_means
        return f"{value} {self.unit}".strip()


@dataclass(frozen=True, slots=True)
class OptionalIdKind:
    """One channel or role, or none."""

    what: str  # "channel" or "role"

    @property
    def type_name(self) -> str:
        return f"a {self.what} (mention or id), or none"

    def parse(self, text: str) -> int | None:
        if text.strip().casefold() in _CLEAR_WORDS:
            return None
        return _parse_id(text, self.what)

    def dump(self, value: int | None) -> Any:
        return value

    def load(self, raw: Any) -> int | None:
        if raw is None:
            return None
        if not isinstance(raw, int) or isinstance(raw, bool) or raw <= 0:
            raise ValueError("not an id")
        return raw

    def show(self, value: int | None) -> str:
        return "none" if value is None else _mention(value, self.what)


@dataclass(frozen=True, slots=True)
class IdSetKind:
    """A set of channels or roles; empty is allowed (its meaning is in the description)."""

    what: str

    @property
    def type_name(self) -> str:
        return f"{self.what}s (mentions or ids, separated by spaces or commas), or none"

    def parse(self, text: str) -> frozenset[int]:
        if text.strip().casefold() in _CLEAR_WORDS:
            return frozenset()
        return frozenset(_parse_id(t, self.what) for t in _tokens(text))

    def dump(self, value: frozenset[int]) -> Any:
        return sorted(value)

    def load(self, raw: Any) -> frozenset[int]:
        return _load_ids(raw)

    def show(self, value: frozenset[int]) -> str:
        return ", ".join(_mention(v, self.what) for v in sorted(value)) or "none"


def _load_ids(raw: Any) -> frozenset[int]:
    if not isinstance(raw, list) or not all(isinstance(v, int) and v > 0 for v in raw):
        raise ValueError("not a list of ids")
    return frozenset(raw)


@dataclass(frozen=True, slots=True)
class EnumKind(Generic[E]):
    """One of a fixed set of words."""

    enum: type[E]

    @property
    def type_name(self) -> str:
        return " | ".join(member.value for member in self.enum)

    def parse(self, text: str) -> E:
        word = text.strip().casefold().replace("-", "_").replace(" ", "_")
        try:
            return self.enum(word)
        except ValueError:
            raise ValueError(f"expected one of {self.type_name}, got '{text.strip()}'.") from None

    def dump(self, value: E) -> Any:
        return value.value

    def load(self, raw: Any) -> E:
        return self.enum(raw)

    def show(self, value: E) -> str:
        return value.value


@dataclass(frozen=True, slots=True)
class TermsKind:
    """A list of filter terms; each is parsed (regexes compiled with RE2) when set."""

    type_name: str = "terms separated by commas or new lines (word, wild*card, a phrase, re:regex)"

    def parse(self, text: str) -> tuple[str, ...]:
        if text.strip().casefold() in _CLEAR_WORDS:
            return ()
        return self.check(split_terms(text))

    @staticmethod
    def check(terms: list[str] | tuple[str, ...]) -> tuple[str, ...]:
        """Validate a list of terms, dropping repeats (ignoring case); raises ValueError with the reason."""
        by_folded: dict[str, str] = {}
        for term in terms:
            if term.strip():
                by_folded.setdefault(term.strip().casefold(), term.strip())
        unique = tuple(by_folded.values())
        try:
            parse_terms(unique)
        except ModerationError as exc:
            raise ValueError(exc.user_message) from exc
        return unique

    def dump(self, value: tuple[str, ...]) -> Any:
        return list(value)

    def load(self, raw: Any) -> tuple[str, ...]:
        if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
            raise ValueError("not a list of terms")
        # Not re-validated here: the filter compiler skips (and logs) any term that no longer parses,
        # so one bad stored term cannot switch off a whole list.
        return tuple(raw)

    def show(self, value: tuple[str, ...]) -> str:
        return ", ".join(f"`{t}`" for t in value) or "none"


def _entries(text: str) -> list[str]:
    return [e.strip() for e in re.split(r"[;\n]", text) if e.strip()]


@dataclass(frozen=True, slots=True)
class TemplateIdsKind:
    """Per template, a set of channels or roles: ``imagine=<#1>,<#2>; upscale=3``."""

    what: str

    @property
    def type_name(self) -> str:
        return f"template={self.what}s entries separated by ';' (e.g. imagine=123,456), or none"

    def parse(self, text: str) -> Mapping[str, frozenset[int]]:
        if text.strip().casefold() in _CLEAR_WORDS:
            return MappingProxyType({})
        result: dict[str, frozenset[int]] = {}
        for entry in _entries(text):
            name, sep, ids = entry.partition("=")
            name = name.strip().casefold().lstrip("/")
            if not sep or not _TEMPLATE_NAME.match(name):
                raise ValueError(f"'{entry}' should look like template={self.what}s, e.g. imagine=123,456.")
            parsed = IdSetKind(self.what).parse(ids)
            if parsed:
                result[name] = parsed
        return MappingProxyType(result)

    def dump(self, value: Mapping[str, frozenset[int]]) -> Any:
        return {name: sorted(ids) for name, ids in sorted(value.items())}

    def load(self, raw: Any) -> Mapping[str, frozenset[int]]:
        if not isinstance(raw, dict):
            raise ValueError("not a mapping")
        return MappingProxyType({str(k): _load_ids(v) for k, v in raw.items()})

    def show(self, value: Mapping[str, frozenset[int]]) -> str:
        return (
            "; ".join(f"{name}: {IdSetKind(self.what).show(ids)}" for name, ids in sorted(value.items()))
            or "none"
        )


_LIMIT_NAMES: Final = {
    "lane": "lane",
    "max_queued": "max_queued",
    "queue": "max_queued",
    "cooldown": "cooldown_seconds",
    "cooldown_seconds": "cooldown_seconds",
    "daily_jobs": "daily_jobs",
    "jobs": "daily_jobs",
    "daily_gpu_seconds": "daily_gpu_seconds",
    "gpu": "daily_gpu_seconds",
}
_LIMIT_RANGE: Final = IntKind(0, 1_000_000, zero_means="no limit")


@dataclass(frozen=True, slots=True)
class RoleOverridesKind:
    """Per role, limits and lane: ``<@&1> lane=priority daily_jobs=200; <@&2> cooldown=0``."""

    type_name: str = (
        "role limit=value ... entries separated by ';' (limits: lane, max_queued, cooldown, "
        "daily_jobs, daily_gpu_seconds), or none"
    )

    def parse(self, text: str) -> Mapping[int, RoleLimits]:
        if text.strip().casefold() in _CLEAR_WORDS:
            return MappingProxyType({})
        result: dict[int, RoleLimits] = {}
        for entry in _entries(text):
            role, *settings = entry.split()
            role_id = _parse_id(role, "role")
            values: dict[str, Any] = {}
            for setting in settings:
                name, sep, value = setting.partition("=")
                field_name = _LIMIT_NAMES.get(name.casefold())
                if not sep or field_name is None:
                    raise ValueError(
                        f"'{setting}' should be limit=value with limit one of lane, max_queued, "
                        "cooldown, daily_jobs, daily_gpu_seconds."
                    )
                values[field_name] = _parse_limit(field_name, value)
            if not values:
                raise ValueError(
                    f"give at least one limit for {_mention(role_id, 'role')}, e.g. lane=priority."
                )
            result[role_id] = RoleLimits(**values)
        return MappingProxyType(result)

    def dump(self, value: Mapping[int, RoleLimits]) -> Any:
        return {
            str(role): {k: v for k, v in asdict(limits).items() if v is not None}
            for role, limits in sorted(value.items())
        }

    def load(self, raw: Any) -> Mapping[int, RoleLimits]:
        if not isinstance(raw, dict):
            raise ValueError("not a mapping")
        result = {}
        for role, limits in raw.items():
            if not isinstance(limits, dict) or not set(limits) <= set(_LIMIT_NAMES.values()):
                raise ValueError("not a mapping of limits")
            for name, value in limits.items():
                valid = value in LANES if name == "lane" else isinstance(value, int) and value >= 0
                if not valid:
                    raise ValueError(f"bad {name}: {value!r}")
            result[int(role)] = RoleLimits(**limits)
        return MappingProxyType(result)

    def show(self, value: Mapping[int, RoleLimits]) -> str:
        parts = []
        for role, limits in sorted(value.items()):
            shown = " ".join(f"{k}={v}" for k, v in asdict(limits).items() if v is not None)
            parts.append(f"{_mention(role, 'role')} {shown}")
        return "; ".join(parts) or "none"


def _parse_limit(field_name: str, value: str) -> Any:
    if field_name == "lane":
        lane = value.strip().casefold()
        if lane not in LANES:
            raise ValueError(f"lane must be one of {', '.join(LANES)}, got '{value}'.")
        return lane
    try:
        return _LIMIT_RANGE.parse(value)
    except ValueError as exc:
        raise ValueError(f"{field_name}: {exc}") from None
