"""Errors raised by the moderation layer; every message is safe to show the moderator who caused it."""

from __future__ import annotations

from bot.errors import BotError


class ModerationError(BotError):
    """Base of moderation failures."""


class SettingError(ModerationError):
    """A setting name or value a moderator typed is not valid."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"`{key}`: {message}")


class InvalidTerm(ModerationError):
    """A blocked term cannot be used (empty, too long, or a bad regular expression)."""

    def __init__(self, term: str, message: str) -> None:
        self.term = term
        self.reason = message
        shown = term if len(term) <= 60 else term[:57] + "..."
        super().__init__(f"The term `{shown}` cannot be used: {message}")


class InvalidPattern(InvalidTerm):
    """A regular expression term the filter cannot use: not valid, or using a feature (back-references,
    look-around) that the linear-time engine does not have."""
