"""Turn a raw value (a Discord option, a CLI string, a stored job value) into a parameter's value.

Shared by ``render``, the Discord layer and the CLI, so all of them accept and reject the same things.
"""

from __future__ import annotations

import math
import re

from bot.errors import InvalidParameter
from bot.numbers import NumberOutOfRange, parse_plain_float, parse_plain_int
from bot.templates.model import SEED_MAX, SEED_MIN, Param, ParamType, Value

#: C0 controls except tab and newline, DEL, C1 controls, and lone surrogates (not encodable as UTF-8).
_FORBIDDEN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_FINITE = frozenset({"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
#: Longest backend choice (a model file name, maybe in a subfolder) or uploaded file name we accept.
MAX_NAME_LENGTH = 255


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot go into a workflow (control characters, NUL), or None when it can."""
    bad = _FORBIDDEN_TEXT.search(text)
    if bad is None:
        return None
    char = bad.group()
    if char == "\x00":
        return "contains a NUL character"
    if "\ud800" <= char <= "\udfff":
        return "contains an invalid character (a lone surrogate)"
    return f"contains a control character (U+{ord(char):04X}); only newlines and tabs are allowed"


def file_name_problem(name: str) -> str | None:
    """Why ``name`` is not a usable uploaded file name (``"abc.png"`` or ``"comfycord/abc.png"``)."""
    if not name or not name.strip():
        return "is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"is longer than {MAX_NAME_LENGTH} characters"
    if problem := text_problem(name):
        return problem
    if "\n" in name or "\t" in name:
        return "contains a line break or tab"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "must be a relative name"
    if any(part in ("..", ".") for part in re.split(r"[\\/]", name)):
        return "must not contain '.' or '..' path segments"
    return None


def shown_number(number: int | float) -> str:
    """A number the way a person would write it back: ``4``, ``0.25``, ``4.0000001`` (never rounded)."""
    if isinstance(number, float):
        if number.is_integer() and abs(number) < 1e16:
            return str(int(number))
        return repr(number)
    return str(number)


def _typed(raw: object, number: int | float) -> str:
    """The value as the member typed it, if it was typed (CLI, stored text); else as a number."""
    if isinstance(raw, str):
        return raw.strip()[:40]
    return shown_number(number)


def bounds_problem(param: Param, number: int | float, raw: object = None) -> str | None:
    """Why ``number`` is outside the parameter's min/max/step (None when inside)."""
    low, high = param.min, param.max
    if param.type is ParamType.SEED:
        low, high = SEED_MIN, SEED_MAX
    got = _typed(raw, number) if raw is not None else shown_number(number)
    if (low is not None and number < low) or (high is not None and number > high):
        if low is not None and high is not None:
            return f"must be between {shown_number(low)} and {shown_number(high)} (got {got})"
        if low is not None:
            return f"must be at least {shown_number(low)} (got {got})"
        assert high is not None
        return f"must be at most {shown_number(high)} (got {got})"
    step = param.step
    if param.type is ParamType.INT and isinstance(step, int) and step > 1 and isinstance(number, int):
        base = int(low) if low is not None else 0
        if (number - base) % step:
            return f"must be a multiple of {step} from {base} (got {got})"
    return None


def _to_int(param: Param, raw: object) -> int:
    if isinstance(raw, bool):
        raise InvalidParameter(param.name, "must be a whole number, not true/false")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if math.isfinite(raw) and raw.is_integer():
            return int(raw)
        raise InvalidParameter(param.name, f"must be a whole number (got {shown_number(raw)})")
    if isinstance(raw, str):
        try:
            return parse_plain_int(raw)
        except ValueError:
            raise InvalidParameter(
                param.name, f"must be a whole number written with the digits 0-9 (got {raw[:40]!r})"
            ) from None
    raise InvalidParameter(param.name, f"must be a whole number (got {type(raw).__name__})")


def _to_float(param: Param, raw: object) -> float:
    if isinstance(raw, bool):
        raise InvalidParameter(param.name, "must be a number, not true/false")
    if isinstance(raw, int | float):
        try:
            number = float(raw)
        except OverflowError:
            raise InvalidParameter(param.name, "is far too large") from None
    elif isinstance(raw, str):
        if raw.strip().lower() in _NOT_FINITE:
            raise InvalidParameter(param.name, f"must be a finite number (got {raw.strip()!r})")
        try:
            number = parse_plain_float(raw)
        except NumberOutOfRange:
            raise InvalidParameter(param.name, f"is far too large (got {raw.strip()[:40]!r})") from None
        except ValueError:
            raise InvalidParameter(
                param.name, f"must be a number like 7 or 2.5, with the digits 0-9 (got {raw[:40]!r})"
            ) from None
    else:
        raise InvalidParameter(param.name, f"must be a number (got {type(raw).__name__})")
    if not math.isfinite(number):
        raise InvalidParameter(param.name, "must be a finite number")
    return number


def _to_bool(param: Param, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise InvalidParameter(param.name, f"must be true or false (got {str(raw)[:40]!r})")


def _to_text(param: Param, raw: object) -> str:
    if not isinstance(raw, str):
        raise InvalidParameter(param.name, f"must be text (got {type(raw).__name__})")
    if param.max_length is not None and len(raw) > param.max_length:
        raise InvalidParameter(
            param.name, f"is too long: {len(raw)} characters, at most {param.max_length} allowed"
        )
    if problem := text_problem(raw):
        raise InvalidParameter(param.name, problem)
    if param.required and not raw.strip():
        raise InvalidParameter(param.name, "must not be empty")
    return raw


def _to_choice(param: Param, raw: object) -> str:
    if not isinstance(raw, str):
        raise InvalidParameter(param.name, f"must be one of the offered choices (got {type(raw).__name__})")
    if param.from_backend:
        if not raw.strip() or len(raw) > MAX_NAME_LENGTH:
            raise InvalidParameter(param.name, "must be a name offered by the server")
        if problem := text_problem(raw):
            raise InvalidParameter(param.name, problem)
        return raw
    labels = [c.label for c in param.choices]
    if raw in labels:
        return raw
    folded = [label for label in labels if label.casefold() == raw.strip().casefold()]
    if len(folded) == 1:
        return folded[0]
    shown = ", ".join(labels[:25])
    raise InvalidParameter(param.name, f"must be one of: {shown} (got {raw[:40]!r})")


def _to_file(param: Param, raw: object) -> str:
    if not isinstance(raw, str):
        raise InvalidParameter(
            param.name, f"must be an uploaded {param.type.value} (got {type(raw).__name__})"
        )
    if problem := file_name_problem(raw):
        raise InvalidParameter(param.name, f"file name {problem}")
    return raw


def coerce_value(param: Param, raw: object) -> Value:
    """Validate ``raw`` for ``param`` and return it in the parameter's type.

    Accepts native values (from Discord or stored jobs) and strings (from the CLI, e.g. ``"30"``,
    ``"true"``). Raises ``InvalidParameter`` naming the parameter and what is allowed.
    """
    kind = param.type
    if kind is ParamType.TEXT:
        return _to_text(param, raw)
    if kind is ParamType.CHOICE:
        return _to_choice(param, raw)
    if kind is ParamType.BOOL:
        return _to_bool(param, raw)
    if kind in (ParamType.IMAGE, ParamType.MASK):
        return _to_file(param, raw)
    number: int | float = _to_float(param, raw) if kind is ParamType.FLOAT else _to_int(param, raw)
    if problem := bounds_problem(param, number, raw):
        raise InvalidParameter(param.name, problem)
    return number
