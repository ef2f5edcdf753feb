"""Blocked terms: whole words, wildcards (``nud*``), phrases (``child porn``) and regular expressions.

A term is written the way a moderator thinks of it and compared in skeleton form (see normalize), so
``nud*`` also catches ``NÚD3S`` and ``n.u.d.e``: each one compiles to an RE2 pattern over the prompt's
words (see word_patterns). A term starting with ``re:`` is a regular expression, matched by RE2 too
(see regex_terms).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from bot.moderation.errors import InvalidPattern, InvalidTerm, ModerationError
from bot.moderation.linear_regex import LinearRegex
from bot.moderation.normalize import LEET_SYMBOLS, NormalizedText, fold, skeleton
from bot.moderation.regex_terms import compile_regex_term
from bot.moderation.word_patterns import term_pattern

REGEX_PREFIX: Final = "re:"
MAX_TERM_LENGTH: Final = 100
MAX_PHRASE_WORDS: Final = 5
MAX_WILDCARDS: Final = 2
"""Most ``*`` in one term: each one lets the term's pattern stay alive across a whole word."""
MAX_TERMS: Final = 500
"""Most terms in one list."""
MAX_REGEX_TERMS: Final = 50
"""Most regular expressions in one list (they all compile into one expression per filter)."""

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
    """One parsed term; ``raw`` is what the moderator wrote and what moderators are shown.

    A word, wildcard or phrase has ``pattern``, its RE2 source over ``NormalizedText.words`` (None if
    no prompt can match it); a regular expression has ``regex``.
    """

    raw: str
    kind: TermKind
    pieces: tuple[str, ...] = ()
    joined: str = ""
    pattern: str | None = None
    regex: LinearRegex | None = field(default=None, compare=False)

    def matches(self, text: NormalizedText) -> bool:
        """Whether the term occurs in ``text`` as whole words (or as a regex match).

        One term at a time: a filter checks all of its terms at once (see filters)."""
        if self.regex is not None:
            return self.regex.search(text.folded) or self.regex.search(text.readable)
        return self.pattern is not None and _compiled(self.pattern).search(text.words)


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> LinearRegex:
    return LinearRegex(pattern)


def parse_term(raw: str) -> Term:
    """Parse and check one term; raises InvalidTerm (or InvalidPattern) with a message to show."""
    text = raw.strip()
    if not text:
        raise InvalidTerm(raw, "it is empty.")
    if text.casefold().startswith(REGEX_PREFIX):
        pattern = text[len(REGEX_PREFIX) :].strip()
        try:
            regex = compile_regex_term(pattern)
        except InvalidPattern as exc:
            # Shown as the moderator wrote it, prefix and all.
            raise InvalidPattern(text, exc.reason) from None
        return Term(raw=text, kind=TermKind.REGEX, regex=regex)
    if len(text) > MAX_TERM_LENGTH:
        raise InvalidTerm(text, f"terms may be at most {MAX_TERM_LENGTH} characters.")
    words = _term_words(fold(text))
    if sum(len(w.replace("*", "")) for w in words) < 2:
        raise InvalidTerm(text, "it needs at least two letters or digits (besides *).")
    _check_shape(text, words)
    pieces = tuple(_piece(w) for w in words)
    if len(pieces) > 1:
        kind, joined = TermKind.PHRASE, _piece("".join(words))
    else:
        kind, joined = (TermKind.WILDCARD if "*" in pieces[0] else TermKind.WORD), pieces[0]
    return Term(raw=text, kind=kind, pieces=pieces, joined=joined, pattern=term_pattern(pieces, joined))


def _check_shape(text: str, words: list[str]) -> None:
    # Limits that keep every term cheap to match: each word or wildcard of a term is a place where
    # its pattern can be waiting, at every position of the prompt.
    if len(words) > MAX_PHRASE_WORDS:
        raise InvalidTerm(text, f"a phrase may have at most {MAX_PHRASE_WORDS} words.")
    if text.count("*") > MAX_WILDCARDS:
        raise InvalidTerm(text, f"a term may have at most {MAX_WILDCARDS} wildcards (*).")
    if len(words) > 1 and any(word.startswith("*") for word in words):
        raise InvalidTerm(
            text,
            "in a phrase a word may end with * (`child porn*`) but not start with it: it would keep the "
            "phrase waiting in every word of every prompt. Use a one-word term for that (`*porn*`).",
        )
    for word in words:
        if "*" in word and len(word.replace("*", "")) < 2:
            raise InvalidTerm(
                text, f"`{word}` would match almost any word: keep at least two letters or digits beside a *."
            )


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
