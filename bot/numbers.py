"""Numbers as people type them, without Python's extras.

``int()`` and ``float()`` accept ``1_000``, digits of every script (``٣٠`` is 30), ``nan``, ``inf`` and
``1e3``-style floats; a member or an owner typing a value means none of that, and a value read back
differently from how it was typed makes every message about it confusing. These accept an optional
sign and ASCII digits (and, for floats, one decimal point and an exponent), and nothing else.
"""

from __future__ import annotations

import math
import re
from typing import Final

_INT: Final = re.compile(r"[+-]?[0-9]+")
_FLOAT: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class NumberOutOfRange(ValueError):
    """Written like a number, but too large for a float (``1e999``)."""


MAX_DIGITS: Final = 40
"""Longer than any value a setting or parameter takes, short of Python's 4300-digit conversion limit."""


def parse_plain_int(text: str) -> int:
    """``text`` (surrounding spaces allowed) as an integer; ValueError unless it is sign + ASCII digits."""
    stripped = text.strip()
    if len(stripped) > MAX_DIGITS or not _INT.fullmatch(stripped):
        raise ValueError(f"not a plain whole number: {text[:MAX_DIGITS]!r}")
    return int(stripped)


def parse_plain_float(text: str) -> float:
    """``text`` as a finite number written with ASCII digits; ValueError otherwise (nan, inf, 1_0...)."""
    stripped = text.strip()
    if len(stripped) > MAX_DIGITS or not _FLOAT.fullmatch(stripped):
        raise ValueError(f"not a plain number: {text[:MAX_DIGITS]!r}")
    number = float(stripped)
    if not math.isfinite(number):
        raise NumberOutOfRange(f"out of range: {text[:MAX_DIGITS]!r}")
    return number
