"""Terms as RE2 patterns over ``NormalizedText.words``: every reading of a word checked in one pass.

A term's words are kept in skeleton form (see normalize.skeleton): leet read, ``vv`` as ``w``, letter
runs cut to two. Instead of listing every reading of every word of a prompt, each skeleton letter
becomes a pattern for the ways a prompt can write it:

* a letter matches itself or a leet character read as it (``a`` matches ``a``, ``4`` and ``@``;
  ``i`` and ``l`` both match ``1`` and ``|``), and ``w`` also matches ``vv``;
* a run of one or two letters also matches its forms stretched to three or more (``nude`` matches
  ``nuuuude``, ``ass`` matches ``a$5$``, ``kill`` matches ``ki||1l``);
* a number (only digits and ``*``) matches words marked as numbers, exactly as written.

A pattern matches whole words: it starts and ends at the blanks around them, and a phrase's words
are consecutive words of one way of cutting the text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Final

from bot.moderation.normalize import AMBIGUOUS_CHARACTERS, LEET_CHARACTERS, NUMBER_MARK, written_as

_ANY_LETTERS: Final = r"[^ \n]*"
"""What a ``*`` stands for: any part of one word."""

_STRETCH_MIN: Final = 3
"""A run this long or longer in a prompt reads as one or two letters (normalize keeps runs of two)."""

MIXED_RUN_MAX: Final = 5
"""Longest stretched run of an ``i`` or ``l`` that mixes ``1`` or ``|`` with other forms."""


def _chars(forms: str) -> str:
    return _escape(forms) if len(forms) == 1 else "[" + "".join(_escape(ch) for ch in forms) + "]"


def _class(letter: str) -> str:
    chars = _chars(written_as(letter))
    return f"(?:{chars}|vv)" if letter == "w" else chars


def _stretched(letter: str) -> str:
    forms = written_as(letter)
    if not AMBIGUOUS_CHARACTERS & set(forms):
        return f"{_class(letter)}{{{_STRETCH_MIN},}}"
    # 1 and | are forms of both i and l: an unbounded mixed run of them ("1|1l|..." for thousands of
    # characters) would keep every pattern with an i or an l alive across a whole garbage word, which
    # makes a filter slow. So a mixed run stretches to a point ("ki|||1l"), a run of one character
    # (or of only the plain forms) as far as it goes.
    plain = "".join(ch for ch in forms if ch not in AMBIGUOUS_CHARACTERS)
    units = [_chars(plain), *(_escape(ch) for ch in forms if ch in AMBIGUOUS_CHARACTERS)]
    unbounded = [f"{unit}{{{_STRETCH_MIN},}}" for unit in units]
    return "|".join([f"{_chars(forms)}{{{_STRETCH_MIN},{MIXED_RUN_MAX}}}", *unbounded])


def _escape(ch: str) -> str:
    # RE2 takes a backslash before ASCII punctuation as the literal character (and refuses one
    # before anything else).
    return "\\" + ch if ch.isascii() and not ch.isalnum() else ch


@functools.cache
def _run(letter: str, count: int) -> str | None:
    """A run of ``count`` copies of ``letter`` in a skeleton, as the prompt may write it."""
    if letter in LEET_CHARACTERS or count > 2:
        # A leet character never survives in a reading, and a reading's runs are at most two long.
        return None
    unit = _class(letter)
    exact = unit if count == 1 else f"{unit}{{2}}"
    return f"(?:{exact}|{_stretched(letter)})"


def _read_glob(piece: str) -> str | None:
    """The pattern for a leet word one of whose readings the glob ``piece`` matches, or None."""
    out: list[str] = []
    for i, literal in enumerate(piece.split("*")):
        if i:
            out.append(_ANY_LETTERS)
        for match in re.finditer(r"(.)\1*", literal, re.DOTALL):
            run = _run(match.group()[0], len(match.group()))
            if run is None:
                return None
            out.append(run)
    return "".join(out)


def _number_glob(piece: str) -> str | None:
    """The pattern for a number the glob ``piece`` matches, if the piece is a number at all."""
    literal = piece.replace("*", "")
    if not literal or not literal.isdecimal():
        return None
    return NUMBER_MARK + _ANY_LETTERS.join(piece.split("*"))


def word_pattern(piece: str) -> str | None:
    """One whole word that the glob ``piece`` (a skeleton with ``*``) matches; None if none can."""
    branches = [p for p in (_number_glob(piece), _read_glob(piece)) if p is not None]
    if not branches:
        return None
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"


def term_pattern(pieces: Sequence[str], joined: str) -> str | None:
    """A term of one or more words (a phrase is also matched written as one word, ``joined``),
    blanks around it included; None if nothing can match it."""
    words = [word_pattern(piece) for piece in pieces]
    branches = []
    if all(w is not None for w in words):
        branches.append(" " + " ".join(w for w in words if w is not None) + " ")
    if len(pieces) > 1:
        whole = word_pattern(joined)
        if whole is not None:
            branches.append(f" {whole} ")
    if not branches:
        return None
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
