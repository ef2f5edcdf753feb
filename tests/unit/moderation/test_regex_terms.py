"""Moderators' regular expressions: what they write is accepted, what RE2 cannot run is refused with
the reason, and no pattern can make a prompt check slow."""

from __future__ import annotations

import re

import pytest

from bot.moderation.errors import InvalidPattern
from bot.moderation.normalize import normalize
from bot.moderation.regex_terms import MAX_PATTERN_LENGTH, compile_regex_term
from bot.moderation.terms import parse_term

# (pattern, a prompt it must match, a prompt it must not match)
WRITTEN_BY_MODERATORS = [
    (r"\d{1,2}\s?y/?o", "a 12yo character", "a 2024 poster"),
    (r"\d{1,2}\s?y/?o", "she is 9 y/o", "yoyo"),
    (r"\b(1[0-7]|[1-9])\s?(yo|y/o|years? old)\b", "a 15 years old girl", "a 25 years old woman"),
    (r"\bteen(s|agers?)?\b", "two teenagers", "canteen"),
    (r"colou?r", "colorful", "colon"),
    (r"\bnud(e|ie)s?\b", "some nudies", "nudibranch"),
    (r"(cat|dog)s?\b", "three dogs", "catalogue"),
    (r"p[o0]rn", "p0rnhub", "pro"),
    (r"child.{0,30}porn", "child in porn", "children playing, a portrait"),
    (r"^nsfw", "NSFW first", "not nsfw first"),
    (r"l[o0]l[i1]", "a l0l1", "lolly"),
    # Shapes a backtracking engine can take minutes over; RE2 takes them in its stride.
    (r"(a+)+b", "aaab", "aaaa"),
    (r"(\w+\s?)+$", "any words", "..."),
    (r".*x.*y", "x then y", "y then x"),
    (r"(a|aa)+c", "aaac", "aaa"),
]


@pytest.mark.parametrize(("pattern", "hit", "miss"), WRITTEN_BY_MODERATORS)
def test_patterns_moderators_write_are_accepted_and_match(pattern: str, hit: str, miss: str) -> None:
    term = parse_term("re:" + pattern)
    assert term.matches(normalize(hit)), hit
    assert not term.matches(normalize(miss)), miss


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"(a)\1", "back-references such as \\1"),
        (r"(?P<x>a)(?P=x)", "back-references"),
        (r"(?(1)a|b)", "back-references"),
        (r"nude(?!s)", "look-ahead such as (?=...) or (?!...) is not supported"),
        (r"(?=teen)\w+", "look-ahead"),
        (r"(?<=young )girl", "look-behind such as (?<=...) or (?<!...) is not supported"),
        (r"(?<!s)nude", "look-behind"),
        (r"(?>a+)b", "atomic groups and possessive repeats"),
        (r"a*+b", "atomic groups and possessive repeats"),
        (r"nsfw\Z", "write `\\z`"),
        ("(unclosed", "not a valid regular expression (missing ): (unclosed)"),
        ("[z-a]", "not a valid regular expression (invalid character class range: z-a)"),
        (r"(x{1,100}){1,100}", "a repeat may count to at most 1000"),
        ("", "empty"),
        ("   ", "empty"),
        ("x" * (MAX_PATTERN_LENGTH + 1), f"at most {MAX_PATTERN_LENGTH} characters"),
        ("a*", "it can match empty text"),
        (r"\b", "it can match empty text"),
        ("^", "it can match empty text"),
        ("x?|y?", "it can match empty text"),
    ],
)
def test_refusals_say_why(pattern: str, why: str) -> None:
    with pytest.raises(InvalidPattern, match=re.escape(why)) as caught:
        compile_regex_term(pattern)
    assert caught.value.user_message.startswith("The term `")


def test_a_refusal_reaches_the_moderator_through_the_term() -> None:
    with pytest.raises(InvalidPattern) as caught:
        parse_term("re:nude(?!s)")
    assert caught.value.user_message == (
        "The term `re:nude(?!s)` cannot be used: look-ahead such as (?=...) or (?!...) is not supported: "
        "it needs a backtracking engine, which a crafted prompt can keep busy for minutes. Match the text "
        "itself instead, e.g. `nude\\b` rather than `nude(?!s)`."
    )


def test_regexes_ignore_case_and_see_the_readable_form() -> None:
    term = parse_term(r"re:\bnsfw\b")
    assert term.matches(normalize("An N.S.F.W picture"))
    assert term.matches(normalize("ＮＳＦＷ"))


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "pattern", [r"(a+)+b", r"(a|aa)+c", r"(.*a){12}", r"(\w+\s?)+$", r"(x+x+)+y", r"(a|a)*b", r".*.*.*=.*"]
)
def test_catastrophic_shapes_finish_on_hostile_prompts(pattern: str) -> None:
    # A backtracking engine needs years for some of these; RE2 is linear in the prompt. The timeout
    # is a guard against a hang, not a measurement (bench/filter_bench.py measures).
    term = parse_term("re:" + pattern)
    for hostile in ("a" * 6_000, "x" * 5_999 + "!", "ab " * 2_000, "=" * 6_000):
        term.matches(normalize(hostile))
