"""Standard JSON only, for text we did not write (ComfyUI answers, workflow files).

``json.loads`` accepts NaN and Infinity (and turns 1e999 into inf), which later crash whoever does
arithmetic with them or sends them on; deep nesting raises RecursionError, which is not a ValueError
at all. ``strict_loads`` turns every one of those into a ``StrictJSONError``.
"""

from __future__ import annotations

import json
import math
from typing import Any


class StrictJSONError(ValueError):
    """Not standard JSON: malformed, nested too deeply, or with a number JSON cannot hold."""


def _no_constant(word: str) -> Any:
    raise StrictJSONError(f"{word} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise StrictJSONError(f"the number {text[:40]} is out of range")
    return number


def strict_loads(raw: str | bytes | bytearray) -> Any:
    """Decode ``raw`` as standard JSON; raise ``StrictJSONError`` (a ValueError) for anything else."""
    try:
        return json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
    except StrictJSONError:
        raise
    except RecursionError:
        raise StrictJSONError("it is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise StrictJSONError(f"line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        # Bad UTF-8, and integers longer than Python's digit limit.
        raise StrictJSONError(str(exc)[:200]) from None
