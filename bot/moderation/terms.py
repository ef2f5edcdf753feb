"""Blocked terms: whole words, wildcards (``nud*``), phrases (``child porn``) and regular expressions.

A term is written the way a moderator thinks of it and compared in skeleton form (see normalize), so
``nud*`` also catches ``NÚD3S`` and ``n.u.d.e``. A term starting with ``re:`` is a regular expression,
checked for safety when it is added (see regex_safety).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from bot.moderation.errors import InvalidTerm, ModerationError
from bot.moderation.normalize import LEET_SYMBOLS, NormalizedText, fold, skeleton
from bot.moderation.regex_safety import compile_pattern, search_bounded

REGEX_PREFIX: Final = "re:"
MAX_TERM_LENGTH: Final = 100
MAX_TERMS: Final = 500
"""Most terms in one list."""
MAX_REGEX_TERMS: Final = 50
"""Most regular expressions in one list: each one costs a scan of every prompt."""

BUILTIN_BLOCKLIST: Final[tuple[str, ...]] = (
    # Sexual content involving minors. Exact words where a wildcard would hit innocent words
    # ("loli*" would catch a misspelt "lolipop", "pedo*" would catch "pedometer").
    "loli",
    "lolis",
    "lolicon",
    "shota",
    "shotacon",
    "csam",
    "jailbait",
    "pedo",
    "pedophil*",
    "paedo",
    "paedophil*",
    "child porn*",
    "kiddie porn*",
    "kiddy porn*",
    "underage sex*",
    "underage nude*",
    "preteen nude*",
    "preteen sex*",
    # Sexual content involving animals or the dead.
    "bestiality",
    "zoophil*",
    "necrophil*",
)
"""A short built-in list of terms for content no server should allow; the action is always block."""


class TermKind(StrEnum):
    """How a term is matched."""

    WORD = "word"
    WILDCARD = "wildcard"
    PHRASE = "phrase"
    REGEX = "regex"


@dataclass(frozen=True, slots=True)
class Term:
    """One parsed term; ``raw`` is what the moderator wrote and what moderators are shown."""

    raw: str
    kind: TermKind
    pieces: tuple[str, ...] = ()
    joined: str = ""
    regex: re.Pattern[str] | None = field(default=None, compare=False)

    def matches(self, text: NormalizedText) -> bool:
        """Whether the term occurs in ``text`` as whole words (or as a regex match)."""
        if self.regex is not None:
            return (
                search_bounded(self.regex, text.folded) is not None
                or search_bounded(self.regex, text.readable) is not None
            )
        if self.kind is TermKind.WORD:
            return self.pieces[0] in text.vocabulary
        if self.kind is TermKind.WILDCARD:
            return any(glob_match(self.pieces[0], word) for word in text.vocabulary)
        return self._phrase_matches(text)

    def _phrase_matches(self, text: NormalizedText) -> bool:
        # Written as one word ("childporn") counts too.
        if any(glob_match(self.joined, word) for word in text.vocabulary):
            return True
        n = len(self.pieces)
        for analysis in text.analyses:
            readings = analysis.readings
            for start in range(len(readings) - n + 1):
                if all(
                    any(glob_match(piece, r) for r in readings[start + k])
                    for k, piece in enumerate(self.pieces)
                ):
                    return True
        return False


def glob_match(pattern: str, word: str) -> bool:
    """``*``-only glob matching in linear time (no backtracking): ``nud*`` matches ``nudes``."""
    if "*" not in pattern:
        return pattern == word
    parts = pattern.split("*")
    head, tail = parts[0], parts[-1]
    if len(head) + len(tail) > len(word) or not word.startswith(head) or not word.endswith(tail):
        return False
    # Leftmost placement of each middle part is always at least as good as any later one.
    pos, stop = len(head), len(word) - len(tail)
    for part in parts[1:-1]:
        found = word.find(part, pos, stop)
        if found < 0:
            return False
        pos = found + len(part)
    return True


def parse_term(raw: str) -> Term:
    """Parse and check one term; raises InvalidTerm (or UnsafePattern) with a message to show."""
    text = raw.strip()
    if not text:
        raise InvalidTerm(raw, "it is empty.")
    if text.casefold().startswith(REGEX_PREFIX):
        pattern = text[len(REGEX_PREFIX) :].strip()
        return Term(raw=text, kind=TermKind.REGEX, regex=compile_pattern(pattern))
    if len(text) > MAX_TERM_LENGTH:
        raise InvalidTerm(text, f"terms may be at most {MAX_TERM_LENGTH} characters.")
    words = _term_words(fold(text))
    if sum(len(w.replace("*", "")) for w in words) < 2:
        raise InvalidTerm(text, "it needs at least two letters or digits (besides *).")
    pieces = tuple(_piece(w) for w in words)
    if len(pieces) > 1:
        return Term(raw=text, kind=TermKind.PHRASE, pieces=pieces, joined=_piece("".join(words)))
    kind = TermKind.WILDCARD if "*" in pieces[0] else TermKind.WORD
    return Term(raw=text, kind=kind, pieces=pieces, joined=pieces[0])


def _term_words(folded: str) -> list[str]:
    """Words of a term: like the glued analysis of a prompt, with ``*`` as part of a word."""
    words: list[str] = []
    current: list[str] = []
    singles: list[str] = []
    for ch in folded + " ":
        if ch.isalnum() or ch in LEET_SYMBOLS or ch == "*":
            current.append(ch)
            continue
        if current:
            word = "".join(current)
            current.clear()
            if len(word) == 1:
                singles.append(word)
                continue
            if singles:
                words.append("".join(singles))
                singles.clear()
            words.append(word)
    if singles:
        words.append("".join(singles))
    return words


def _piece(word: str) -> str:
    return "*".join(skeleton(part) if part else "" for part in word.split("*"))


def split_terms(text: str) -> list[str]:
    """Cut a moderator's list into terms at commas and new lines.

    Commas inside a ``re:`` term's brackets or braces (``{1,3}``, ``[,.]``) and escaped commas (``\\,``)
    do not split it.
    """
    terms: list[str] = []
    current: list[str] = []
    head = ""  # the first few non-blank characters of the current term, to spot "re:"
    depth = 0
    escaped = False
    for ch in text:
        in_regex = head.casefold().startswith(REGEX_PREFIX)
        if escaped:
            escaped = False
        elif in_regex and ch == "\\":
            escaped = True
        elif in_regex and ch in "([{":
            depth += 1
        elif in_regex and ch in ")]}":
            depth = max(0, depth - 1)
        elif ch == "\n" or (ch == "," and depth == 0):
            terms.append("".join(current))
            current.clear()
            head = ""
            depth = 0
            continue
        current.append(ch)
        if len(head) < len(REGEX_PREFIX) and (head or not ch.isspace()):
            head += ch
    terms.append("".join(current))
    return [t.strip() for t in terms if t.strip()]


def parse_terms(terms: Sequence[str]) -> tuple[Term, ...]:
    """Parse a whole list, enforcing the list limits; the first bad term raises."""
    if len(terms) > MAX_TERMS:
        raise ModerationError(f"A list may hold at most {MAX_TERMS} terms; this one has {len(terms)}.")
    parsed = tuple(parse_term(t) for t in terms)
    regexes = sum(1 for t in parsed if t.kind is TermKind.REGEX)
    if regexes > MAX_REGEX_TERMS:
        raise ModerationError(
            f"A list may hold at most {MAX_REGEX_TERMS} regular expressions; this one has {regexes}."
        )
    return parsed
