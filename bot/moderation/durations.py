"""Durations as moderators type them (``30m``, ``12h``, ``7d``, ``1d12h``) and as members read them."""

from __future__ import annotations

import math
import re
from typing import Final

from bot.moderation.errors import ModerationError

_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_PART: Final = re.compile(r"(\d{1,6})\s*([smhdw])")
_WHOLE: Final = re.compile(r"^(?:\d{1,6}\s*[smhdw]\s*)+$")
_FOREVER: Final = frozenset({"", "forever", "permanent", "perm", "never", "until lifted", "0"})
MAX_DURATION: Final = 10 * 365 * 86_400


class InvalidDuration(ModerationError):
    """A duration a moderator typed cannot be read."""


def parse_duration(text: str | None) -> float | None:
    """Seconds for ``30m``/``12h``/``7d``/``2w``/``1d12h``; None (no end) for empty or ``permanent``."""
    word = (text or "").strip().casefold()
    if word in _FOREVER:
        return None
    if not _WHOLE.match(word):
        raise InvalidDuration(
            f"`{(text or '').strip()[:40]}` is not a duration: use a number and a unit, "
            "e.g. 30m, 12h, 7d, 2w or 1d12h (or leave it empty for a ban until lifted)."
        )
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(word))
    if seconds <= 0:
        raise InvalidDuration("A duration must be longer than zero.")
    if seconds > MAX_DURATION:
        raise InvalidDuration("A duration can be at most ten years; leave it empty for a ban until lifted.")
    return float(seconds)


def human_duration(seconds: float) -> str:
    """``42 seconds``, ``5 minutes``, ``3 h 05 min``, ``2 d 4 h``: rounded up, never zero."""
    seconds = max(1, math.ceil(seconds))
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"
