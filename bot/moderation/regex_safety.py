"""Moderator-written regular expressions: refuse the slow ones up front, and bound the input they see.

Why not a worker thread with a timeout: CPython's ``re`` engine holds the GIL for the whole match, so a
runaway match in a thread still freezes the event loop, and a thread cannot be killed. A subprocess
could be killed, but costs far more than a prompt check is worth. So safety comes from two bounds that
hold without any help at run time:

1. **Structure.** ``check_pattern`` parses the pattern (``re._parser``, the parser ``re`` itself uses)
   and refuses the shapes behind catastrophic backtracking: nested quantifiers (``(a+)+``, ``(.*)*``),
   alternations with overlapping choices or empty loops inside a repeat (``(a|a)*``, ``(a|ab)+``,
   ``(a?)*``), variable repeats that can fight over the same characters (``a*a*``, ``.*x.*``,
   ``a?a?a?aaa``), back-references, and patterns longer than ``MAX_PATTERN_LENGTH``. What is left
   backtracks at most polynomially, in practice quadratically, in the length of its input.
2. **Input size.** ``search_bounded`` never gives one ``search`` more than ``WINDOW`` characters; long
   texts are scanned in overlapping windows, so the quadratic worst case stays a few milliseconds per
   pattern and window. A match longer than ``OVERLAP`` that straddles two windows can be missed.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from bot.moderation.errors import UnsafePattern

MAX_PATTERN_LENGTH: Final = 200
WINDOW: Final = 1024
OVERLAP: Final = 256
FLAGS: Final = re.IGNORECASE

# A character class spanning more than this many code points is treated as "matches anything".
_MAX_RANGE: Final = 64

# The parser is private but stable in practice, and it is the only parser that agrees with ``re``
# itself; importing the public alias ``sre_parse`` raises a DeprecationWarning since Python 3.11.
_parser: Any = importlib.import_module("re._parser")
_MAXREPEAT: Final[int] = int(importlib.import_module("re._constants").MAXREPEAT)

_REPEATS: Final = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})
_ZERO_WIDTH: Final = frozenset({"AT", "ASSERT", "ASSERT_NOT"})

Chars = frozenset[str] | None
"""The characters something can match; None stands for "anything" (too many to list)."""


@dataclass(frozen=True, slots=True)
class _Repeat:
    lo: int
    hi: int
    chars: Chars

    @property
    def variable(self) -> bool:
        return self.lo != self.hi


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a moderator's pattern, or raise UnsafePattern saying what to change."""
    if not pattern.strip():
        raise UnsafePattern(pattern, "the regular expression is empty.")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise UnsafePattern(pattern, f"regular expressions may be at most {MAX_PATTERN_LENGTH} characters.")
    try:
        compiled = re.compile(pattern, FLAGS)
        tree = _parser.parse(pattern, FLAGS)
    except re.error as exc:
        raise UnsafePattern(pattern, f"it is not a valid regular expression ({exc}).") from exc
    repeats: list[_Repeat] = []
    _walk(pattern, list(tree), inside_repeat=False, repeats=repeats)
    _check_variable_repeats(pattern, repeats)
    if compiled.search("") is not None:
        raise UnsafePattern(pattern, "it matches empty text, so it would match every prompt.")
    return compiled


def search_bounded(regex: re.Pattern[str], text: str) -> re.Match[str] | None:
    """``regex.search(text)`` with each search given at most ``WINDOW`` characters."""
    if len(text) <= WINDOW:
        return regex.search(text)
    step = WINDOW - OVERLAP
    for start in range(0, len(text), step):
        end = min(start + WINDOW, len(text))
        # pos/endpos rather than slicing: lookbehinds and \b still see the text before the window.
        match = regex.search(text, start, end)
        # At a window's end, endpos looks like the end of the text, so \b or $ can match there
        # falsely; the next window, which overlaps, judges such a match with the real context.
        if match is not None and (match.end() < end or end == len(text)):
            return match
        if end == len(text):
            break
    return None


# --- the structural check -----------------------------------------------------------------------------


def _walk(
    pattern: str, items: Sequence[tuple[Any, Any]], *, inside_repeat: bool, repeats: list[_Repeat]
) -> None:
    for op, av in items:
        name = str(op)
        if name in ("GROUPREF", "GROUPREF_EXISTS"):
            raise UnsafePattern(pattern, "back-references such as \\1 are not allowed.")
        if name in _REPEATS:
            lo, hi, body = av
            body_items = list(body)
            if hi > 1:
                if inside_repeat or _has_repeat(body_items):
                    raise UnsafePattern(
                        pattern, "a repeated part inside another repeated part, like (a+)+, can take forever."
                    )
                if _nullable(body_items):
                    raise UnsafePattern(pattern, "a repeated part that can match nothing, like (a?)*.")
            repeats.append(_Repeat(lo, hi, _chars(body_items)))
            _walk(pattern, body_items, inside_repeat=inside_repeat or hi > 1, repeats=repeats)
        elif name == "BRANCH":
            branches = [list(b) for b in av[1]]
            if inside_repeat:
                _check_branches(pattern, branches)
            for branch in branches:
                _walk(pattern, branch, inside_repeat=inside_repeat, repeats=repeats)
        elif name == "SUBPATTERN":
            _walk(pattern, list(av[3]), inside_repeat=inside_repeat, repeats=repeats)
        elif name == "ATOMIC_GROUP":
            _walk(pattern, list(av), inside_repeat=inside_repeat, repeats=repeats)
        elif name in ("ASSERT", "ASSERT_NOT"):
            _walk(pattern, list(av[1]), inside_repeat=inside_repeat, repeats=repeats)


def _has_repeat(items: Sequence[tuple[Any, Any]]) -> bool:
    """Whether a repeat that allows more than one copy occurs anywhere in ``items``."""
    for op, av in items:
        name = str(op)
        if name in _REPEATS and av[1] > 1:
            return True
        children: list[Any] = []
        if name in _REPEATS:
            children = [av[2]]
        elif name == "BRANCH":
            children = list(av[1])
        elif name == "SUBPATTERN":
            children = [av[3]]
        elif name == "ATOMIC_GROUP":
            children = [av]
        elif name in ("ASSERT", "ASSERT_NOT"):
            children = [av[1]]
        if any(_has_repeat(list(child)) for child in children):
            return True
    return False


def _check_branches(pattern: str, branches: list[list[tuple[Any, Any]]]) -> None:
    # The parser factors common prefixes out ("a|ab" becomes "a(?:|b)"), so an empty alternative
    # is often an overlapping pair in disguise: both get the same message.
    firsts = [_first(branch) for branch in branches]
    overlapping = any(_overlap(a, b) for i, a in enumerate(firsts) for b in firsts[i + 1 :])
    if overlapping or any(_nullable(branch) for branch in branches):
        raise UnsafePattern(
            pattern,
            "alternatives inside a repeated part that can match the same text or nothing, "
            "like (a|a)* or (a|ab)+, can take forever.",
        )


def _check_variable_repeats(pattern: str, repeats: list[_Repeat]) -> None:
    # Two variable repeats that can consume the same characters let the engine try every way of
    # sharing a stretch of text between them: polynomial, and exponential with enough of them.
    variable = [r for r in repeats if r.variable]
    for i, a in enumerate(variable):
        for b in variable[i + 1 :]:
            if _overlap(a.chars, b.chars):
                raise UnsafePattern(
                    pattern,
                    "two repeated parts can match the same characters (like .*x.* or a*a*); "
                    "keep one, or bound the other, e.g. .{0,30}.",
                )


# --- character sets of parse-tree fragments ---------------------------------------------------------


def _overlap(a: Chars, b: Chars) -> bool:
    return a is None or b is None or bool(a & b)


def _union(sets: Iterable[Chars]) -> Chars:
    out: set[str] = set()
    for s in sets:
        if s is None:
            return None
        out |= s
    return frozenset(out)


def _in_chars(entries: Sequence[tuple[Any, Any]]) -> Chars:
    out: set[str] = set()
    for op, av in entries:
        name = str(op)
        if name == "LITERAL":
            out.add(chr(av).lower())
        elif name == "RANGE" and av[1] - av[0] <= _MAX_RANGE:
            out.update(chr(c).lower() for c in range(av[0], av[1] + 1))
        else:
            # NEGATE, CATEGORY (\d, \w, \s ...), wide ranges: too broad to list.
            return None
    return frozenset(out)


def _item_chars(op: Any, av: Any) -> Chars:
    """Every character one parse-tree item can consume."""
    name = str(op)
    if name == "LITERAL":
        return frozenset({chr(av).lower()})
    if name == "IN":
        return _in_chars(av)
    if name in _REPEATS:
        return _chars(list(av[2]))
    if name == "SUBPATTERN":
        return _chars(list(av[3]))
    if name == "ATOMIC_GROUP":
        return _chars(list(av))
    if name == "BRANCH":
        return _union(_chars(list(b)) for b in av[1])
    if name in _ZERO_WIDTH:
        return frozenset()
    return None  # ANY, NOT_LITERAL, CATEGORY and anything unforeseen


def _chars(items: Sequence[tuple[Any, Any]]) -> Chars:
    return _union(_item_chars(op, av) for op, av in items)


def _item_nullable(op: Any, av: Any) -> bool:
    name = str(op)
    if name in _ZERO_WIDTH:
        return True
    if name in _REPEATS:
        return bool(av[0] == 0 or _nullable(list(av[2])))
    if name == "SUBPATTERN":
        return _nullable(list(av[3]))
    if name == "ATOMIC_GROUP":
        return _nullable(list(av))
    if name == "BRANCH":
        return any(_nullable(list(b)) for b in av[1])
    return False


def _nullable(items: Sequence[tuple[Any, Any]]) -> bool:
    return all(_item_nullable(op, av) for op, av in items)


def _item_first(op: Any, av: Any) -> Chars:
    name = str(op)
    if name in _REPEATS:
        return _first(list(av[2]))
    if name == "SUBPATTERN":
        return _first(list(av[3]))
    if name == "ATOMIC_GROUP":
        return _first(list(av))
    if name == "BRANCH":
        return _union(_first(list(b)) for b in av[1])
    return _item_chars(op, av)


def _first(items: Sequence[tuple[Any, Any]]) -> Chars:
    """Characters a match of ``items`` can start with."""
    sets: list[Chars] = []
    for op, av in items:
        sets.append(_item_first(op, av))
        if not _item_nullable(op, av):
            break
    return _union(sets)
