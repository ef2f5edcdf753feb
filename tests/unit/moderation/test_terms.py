"""Parsing terms and lists of terms."""

from __future__ import annotations

import pytest

from bot.moderation.errors import InvalidTerm, ModerationError, UnsafePattern
from bot.moderation.terms import (
    BUILTIN_BLOCKLIST,
    MAX_REGEX_TERMS,
    MAX_TERM_LENGTH,
    MAX_TERMS,
    TermKind,
    glob_match,
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
    ],
)
def test_bad_terms_say_why(raw: str, why: str) -> None:
    with pytest.raises(InvalidTerm, match=why):
        parse_term(raw)


def test_unsafe_regex_terms_are_refused() -> None:
    with pytest.raises(UnsafePattern):
        parse_term("re:(a|a)*b")


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
    ("pattern", "word", "expected"),
    [
        ("nud*", "nudes", True),
        ("nud*", "nud", True),
        ("nud*", "snud", False),
        ("*porn", "childporn", True),
        ("*porn", "porno", False),
        ("a*b*c", "axxbyyc", True),
        ("a*b*c", "acb", False),
        ("ab*ba", "aba", False),
        ("*", "", True),
        ("word", "word", True),
    ],
)
def test_glob_match(pattern: str, word: str, expected: bool) -> None:
    assert glob_match(pattern, word) is expected
