"""Moderator regexes: catastrophic shapes are refused, safe ones accepted, matching stays bounded."""

from __future__ import annotations

import re

import pytest

from bot.moderation.errors import UnsafePattern
from bot.moderation.normalize import normalize
from bot.moderation.regex_safety import (
    MAX_PATTERN_LENGTH,
    OVERLAP,
    WINDOW,
    compile_pattern,
    search_bounded,
)
from bot.moderation.terms import parse_term

CATASTROPHIC = [
    r"(a+)+",
    r"(a+)+b",
    r"(a*)*",
    r"(.*)*",
    r"(.+)+x",
    r"(a|a)*",
    r"(a|a)+b",
    r"(a|ab)+",
    r"(a|aa)+$",
    r"(\w+\s?)+$",
    r"((ab)*c)*",
    r"(a?)*",
    r"(x+x+)+y",
    r"(.*a){12}",
    r"(a{1,10}){1,10}",
    r"a*a*b",
    r"\d+\d+x",
    r".*x.*y",
    r"(\w+)(\w+)z",
    r"a?a?a?a?a?a?aaaaaa",
    r"(?=(a+)+)b",
]

SAFE = [
    r"\bnud(e|ie)s?\b",
    r"p[o0]rn",
    r"child.*porn",
    r"child.{0,30}porn",
    r"n+u+d+e+",
    r"(cat|dog)+",
    r"colou?r",
    r"[a-z]{1,20}[0-9]{1,5}",
    r"\d+",
    r"(?<=x)a+",
    r"(?:ab){2,5}c",
    r"^nsfw",
    r"\bs[e3]x(y|ie)?\b",
]


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_catastrophic_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(UnsafePattern) as caught:
        compile_pattern(pattern)
    assert pattern in caught.value.user_message


@pytest.mark.parametrize("pattern", SAFE)
def test_safe_patterns_are_accepted(pattern: str) -> None:
    assert isinstance(compile_pattern(pattern), re.Pattern)


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("", "empty"),
        ("(unclosed", "not a valid regular expression"),
        (r"(a)\1", "back-references"),
        (r"(?P<x>a)(?(x)b|c)", "back-references"),
        ("a*", "matches empty text"),
        ("x" * (MAX_PATTERN_LENGTH + 1), f"at most {MAX_PATTERN_LENGTH}"),
    ],
)
def test_other_refusals_say_why(pattern: str, why: str) -> None:
    with pytest.raises(UnsafePattern, match=re.escape(why)):
        compile_pattern(pattern)


def test_refusal_messages_are_user_messages() -> None:
    with pytest.raises(UnsafePattern) as caught:
        parse_term("re:(a+)+")
    assert "repeated part inside another" in caught.value.user_message


@pytest.mark.timeout(5)
@pytest.mark.parametrize("pattern", SAFE)
def test_hostile_10k_input_finishes_quickly(pattern: str) -> None:
    # Each accepted pattern's worst case is quadratic in one window: bounded by WINDOW, not the input.
    regex = compile_pattern(pattern)
    for hostile in ("a" * 10_000, "n" * 10_000 + "!", "child " * 1_700, "x1" * 5_000):
        search_bounded(regex, hostile)


@pytest.mark.timeout(5)
def test_a_term_check_on_10k_hostile_text_finishes_quickly() -> None:
    terms = [parse_term(t) for t in ("re:child.*porn", "re:n+u+d+e+", "nud*", "*porn*", "child porn")]
    text = normalize(("n" * 500 + "u" * 500 + " ") * 10)
    assert not any(term.matches(text) for term in terms)


def test_matches_across_a_window_edge_are_found() -> None:
    regex = compile_pattern(r"\bbadword\b")
    for offset in range(WINDOW - 10, WINDOW + 5):
        text = "x " * (offset // 2) + "badword" + " y" * 600
        assert search_bounded(regex, text) is not None, offset


def test_the_end_of_a_window_is_not_the_end_of_the_text() -> None:
    # "ass" ends exactly at the first window's end, inside the word "assistant".
    regex = compile_pattern(r"\bass\b")
    text = "z" * (WINDOW - 4) + " assistant" + " ok" * 400
    assert text[WINDOW - 3 : WINDOW] == "ass"
    assert search_bounded(regex, text) is None
    assert search_bounded(regex, text + " ass") is not None


def test_windows_overlap_enough_for_long_patterns() -> None:
    assert OVERLAP > MAX_PATTERN_LENGTH
    regex = compile_pattern(r"start.{0,100}end")
    text = "." * (WINDOW - 60) + "start" + "-" * 90 + "end" + "." * 3000
    assert search_bounded(regex, text) is not None
