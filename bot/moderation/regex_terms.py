"""Moderators' regular expressions (``re:`` terms), matched by RE2 in time linear in the prompt.

There is no safety proof to pass: RE2 never backtracks, so ``(a+)+`` costs what ``a+`` costs. What it
refuses are the features that need backtracking, and each refusal says why and what to write instead.
Patterns ignore case and see the folded prompt and its readable form (see normalize).
"""

from __future__ import annotations

from typing import Final

from bot.moderation.errors import InvalidPattern
from bot.moderation.linear_regex import LinearRegex, RegexError

MAX_PATTERN_LENGTH: Final = 200

_EMPTY_PROBE: Final = "a quiet lighthouse at dusk, 4k"
"""An ordinary prompt: a pattern that finds an empty match in it (``\\b``, ``^``, ``x?``) would match
every prompt."""

_REFUSALS: Final = (
    (
        ("(?=", "(?!"),
        "look-ahead such as (?=...) or (?!...) is not supported: it needs a backtracking engine, which a "
        "crafted prompt can keep busy for minutes. Match the text itself instead, e.g. `nude\\b` rather "
        "than `nude(?!s)`.",
    ),
    (
        ("(?<=", "(?<!"),
        "look-behind such as (?<=...) or (?<!...) is not supported: it needs a backtracking engine, which "
        "a crafted prompt can keep busy for minutes. Match the text itself instead, e.g. `\\bteen`.",
    ),
    (
        # RE2 reports (?P=name) as "invalid perl operator: (?P".
        ("\\1", "\\2", "\\3", "\\4", "\\5", "\\6", "\\7", "\\8", "\\9", "\\g", "(?P", "(?("),
        "back-references such as \\1 or (?P=name) are not supported: matching them can take exponential "
        "time. Spell out the alternatives instead, e.g. `(aa|bb)`.",
    ),
    (
        ("(?>", "*+", "++", "?+", "}+"),
        "atomic groups and possessive repeats such as (?>...) or a*+ are not needed here: every pattern "
        "already runs in linear time. Drop them.",
    ),
    (("\\Z",), "write `\\z` (lower case) for the end of the text."),
)
"""What RE2's error message ends with (the operator it stopped at), and what to tell the moderator."""

_LIMITS: Final = (
    ("invalid repetition size", "a repeat may count to at most 1000, nested repeats multiplied together."),
    ("pattern too large", "it is too complex to compile; split it into simpler terms."),
)


def compile_regex_term(pattern: str) -> LinearRegex:
    """Compile a moderator's pattern, or raise InvalidPattern saying what to change."""
    if not pattern.strip():
        raise InvalidPattern(pattern, "the regular expression is empty.")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidPattern(pattern, f"regular expressions may be at most {MAX_PATTERN_LENGTH} characters.")
    try:
        regex = LinearRegex(pattern, ignore_case=True)
    except RegexError as exc:
        raise InvalidPattern(pattern, _refusal(str(exc))) from None
    if regex.search("") or _matches_zero_width(regex):
        raise InvalidPattern(pattern, "it can match empty text, so it would match every prompt.")
    return regex


def _matches_zero_width(regex: LinearRegex) -> bool:
    span = regex.span(_EMPTY_PROBE)
    return span is not None and span[0] == span[1]


def _refusal(error: str) -> str:
    for needles, message in _REFUSALS:
        if error.endswith(needles):
            return message
    for needle, message in _LIMITS:
        if needle in error:
            return message
    return f"it is not a valid regular expression ({error})."
