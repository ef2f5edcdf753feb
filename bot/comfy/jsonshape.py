"""Tolerant access to JSON from a server we do not control, and a strict decoder for its bodies."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Final

_EMPTY: Mapping[str, Any] = {}

#: Python's json module accepts these words, but JSON has no such numbers.
_NON_FINITE: Final = frozenset({"NaN", "Infinity", "-Infinity"})


class StrictJSONError(ValueError):
    """A body that is not strict JSON: malformed, nested too deeply, or with a number JSON cannot hold."""


def as_mapping(value: object) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else _EMPTY


def _no_constant(word: str) -> Any:
    raise StrictJSONError(f"{word} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999 parses to inf
        raise StrictJSONError(f"the number {text[:40]} is out of range")
    return number


def strict_loads(raw: str | bytes | bytearray) -> Any:
    """Decode ``raw`` as standard JSON; raise ``StrictJSONError`` (a ValueError) for anything else.

    ``json.loads`` would accept NaN and Infinity (and turn 1e999 into inf), which then crash whoever
    does arithmetic with them; deep nesting raises RecursionError, which is not a ValueError at all.
    """
    try:
        return json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
    except StrictJSONError:
        raise
    except RecursionError:
        raise StrictJSONError("nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        # JSONDecodeError, bad UTF-8, and integers longer than Python's digit limit.
        raise StrictJSONError(str(exc)[:200]) from None


__all__ = ["StrictJSONError", "as_mapping", "strict_loads"]
