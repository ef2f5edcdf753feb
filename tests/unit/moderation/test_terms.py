"""Parsing terms and lists of terms."""

from __future__ import annotations

import re

import pytest

from bot.moderation.errors import InvalidPattern, InvalidTerm, ModerationError
from bot.moderation.normalize import normalize
from bot.moderation.terms import (
    BUILTIN_BLOCKLIST,
    MAX_PHRASE_WORDS,
    MAX_REGEX_TERMS,
    MAX_TERM_LENGTH,
    MAX_TERMS,
    MAX_WILDCARDS,
    TermKind,
    parse_term,
    parse_terms,
    split_terms,
)


@pytest.mark.parametrize(
    ("raw", "kind", "pieces"),
    [
        ("nsfw", TermKind.WORD, ("nsfw",)),
        ("  NSFW ", TermKind.WORD, ("nsfw",)),
        ("n.s.f.w", TermKind.WORD, ("nsfw",)),
        ("h1tl3r", TermKind.WORD, ("hitler",)),
        ("nud*", TermKind.WILDCARD, ("nud*",)),
        ("*porn*", TermKind.WILDCARD, ("*porn*",)),
        ("child porn", TermKind.PHRASE, ("child", "porn")),
        ("child porn*", TermKind.PHRASE, ("child", "porn*")),
        (r"re:\bx+\b", TermKind.REGEX, ()),
        (r"RE: nsfw", TermKind.REGEX, ()),
    ],
)
def test_parse_term(raw: str, kind: TermKind, pieces: tuple[str, ...]) -> None:
    term = parse_term(raw)
    assert term.kind is kind
    assert term.pieces == pieces
    assert term.raw == raw.strip()


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("*", "at least two"),
        ("a*", "at least two"),
        ("!", "at least two"),
        ("x" * (MAX_TERM_LENGTH + 1), f"at most {MAX_TERM_LENGTH}"),
        ("one two three four five six", f"at most {MAX_PHRASE_WORDS} words"),
        ("*po*rn*", f"at most {MAX_WILDCARDS} wildcards"),
        ("child *porn", "a word may end with * (`child porn*`) but not start with it"),
        ("*a*", "at least two"),
        ("nude a*", "`a*` would match almost any word"),
    ],
)
def test_bad_terms_say_why(raw: str, why: str) -> None:
    with pytest.raises(InvalidTerm, match=re.escape(why)):
        parse_term(raw)


def test_regex_terms_RE2_cannot_run_are_refused() -> None:
    with pytest.raises(InvalidPattern):
        parse_term(r"re:(a)\1")


@pytest.mark.parametrize("raw", ["child porn*", "*porn*", "porn* video*", "p*rn", "one two three four five"])
def test_terms_moderators_write_stay_within_the_rules(raw: str) -> None:
    assert parse_term(raw).pattern is not None


def test_the_builtin_list_parses_and_is_short() -> None:
    assert len(BUILTIN_BLOCKLIST) <= 30
    assert all(parse_term(t).kind is not TermKind.REGEX for t in BUILTIN_BLOCKLIST)


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("a, b,c", ["a", "b", "c"]),
        ("one\ntwo, three", ["one", "two", "three"]),
        ("nud*, child porn", ["nud*", "child porn"]),
        (r"re:a{1,3}b, word", [r"re:a{1,3}b", "word"]),
        (r"re:[,;]x, word", [r"re:[,;]x", "word"]),
        (r"re:a\,b, word", [r"re:a\,b", "word"]),
        (" re:(x|y),z", ["re:(x|y)", "z"]),
        ("word{1,2}, x", ["word{1", "2}", "x"]),  # braces only group inside a re: term
        (",, ,", []),
    ],
)
def test_split_terms(text: str, terms: list[str]) -> None:
    assert split_terms(text) == terms


def test_list_limits() -> None:
    with pytest.raises(ModerationError, match=f"at most {MAX_TERMS} terms"):
        parse_terms([f"term{i}" for i in range(MAX_TERMS + 1)])
    with pytest.raises(ModerationError, match=f"at most {MAX_REGEX_TERMS} regular"):
        parse_terms([f"re:word{i}" for i in range(MAX_REGEX_TERMS + 1)])


@pytest.mark.parametrize(
    ("term", "word", "expected"),
    [
        ("nud*", "nudes", True),
        ("nud*", "nud", True),
        ("nud*", "snud", False),
        ("*porn", "childporn", True),
        ("*porn", "porno", False),
        ("a*b*c", "axxbyyc", True),
        ("a*b*c", "acb", False),
        ("ab*ba", "aba", False),
        ("ab*ba", "abba", True),
        ("word", "word", True),
    ],
)
def test_wildcards_match_whole_words(term: str, word: str, expected: bool) -> None:
    assert parse_term(term).matches(normalize(f"x {word} y")) is expected
