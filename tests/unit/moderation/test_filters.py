"""check_texts: verdicts over every text parameter, block before review, no term echoed to members,
and the one-pass filter agreeing term for term with the matching table."""

from __future__ import annotations

import logging

import pytest

from bot.moderation.filters import (
    ALLOWED,
    BUILTIN_LIST,
    FilterAction,
    PromptFilter,
    TermList,
    check_texts,
    compile_filter,
)
from bot.moderation.settings import GuildPolicy
from bot.moderation.terms import parse_terms
from tests.unit.moderation.test_matching_table import MUST_MATCH, MUST_NOT_MATCH

POLICY = GuildPolicy(blocked_terms=("nud*", "gore"), review_terms=("swimsuit", "re:\\bbikinis?\\b"))


def test_clean_texts_are_allowed() -> None:
    verdict = check_texts(POLICY, {"prompt": "a lighthouse at dusk", "negative": "blurry"})
    assert verdict == ALLOWED
    assert verdict.allowed


def test_a_blocked_term_names_the_parameter_but_not_the_term() -> None:
    verdict = check_texts(POLICY, {"prompt": "a cat", "negative": "N.U.D.E.S, blurry"})
    assert verdict.action is FilterAction.BLOCK
    assert verdict.param == "negative"
    assert "`negative`" in verdict.reason_for_user
    assert "blocked term" in verdict.reason_for_user
    assert "nud" not in verdict.reason_for_user.casefold()
    assert verdict.matched_term_for_moderators == "nud* (blocked_terms)"


def test_a_review_term_sends_to_review() -> None:
    verdict = check_texts(POLICY, {"prompt": "a woman in a sw1msuit at the beach"})
    assert verdict.action is FilterAction.REVIEW
    assert verdict.param == "prompt"
    assert "swimsuit" not in verdict.reason_for_user
    assert verdict.matched_term_for_moderators == "swimsuit (review_terms)"


def test_a_review_regex_sends_to_review() -> None:
    verdict = check_texts(POLICY, {"prompt": "red BIKINI"})
    assert verdict.action is FilterAction.REVIEW
    assert verdict.matched_term_for_moderators == "re:\\bbikinis?\\b (review_terms)"


def test_block_wins_over_review_whatever_the_parameter_order() -> None:
    verdict = check_texts(POLICY, {"prompt": "swimsuit", "negative": "gore"})
    assert verdict.action is FilterAction.BLOCK
    assert verdict.param == "negative"


def test_the_builtin_list_can_be_switched_off() -> None:
    texts = {"prompt": "a l0l1 character"}
    on = check_texts(GuildPolicy(), texts)
    assert on.action is FilterAction.BLOCK
    assert on.matched_term_for_moderators == f"loli ({BUILTIN_LIST})"
    assert check_texts(GuildPolicy(use_builtin_blocklist=False), texts) == ALLOWED


def test_empty_texts_are_fine() -> None:
    assert check_texts(POLICY, {}) == ALLOWED
    assert check_texts(POLICY, {"prompt": "", "negative": "   "}) == ALLOWED


def test_a_stored_term_that_no_longer_parses_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    compile_filter.cache_clear()
    with caplog.at_level(logging.WARNING, logger="bot.moderation.filters"):
        verdict = check_texts(GuildPolicy(blocked_terms=(r"re:(a)\1", "gore")), {"prompt": "gore"})
    assert verdict.action is FilterAction.BLOCK
    assert "skipping unusable term" in caplog.text


def test_compiled_filters_are_reused() -> None:
    compile_filter.cache_clear()
    check_texts(POLICY, {"prompt": "x"})
    check_texts(
        GuildPolicy(blocked_terms=POLICY.blocked_terms, review_terms=POLICY.review_terms), {"prompt": "y"}
    )
    assert compile_filter.cache_info().hits == 1


@pytest.mark.parametrize(("term", "text"), MUST_MATCH)
def test_the_one_pass_filter_catches_every_evasion_of_the_table(term: str, text: str) -> None:
    verdict = compile_filter((term,), (), False).check({"prompt": text})
    assert verdict.matched_term_for_moderators == f"{term} (blocked_terms)"


@pytest.mark.parametrize(("term", "text"), MUST_NOT_MATCH)
def test_the_one_pass_filter_leaves_every_innocent_word_of_the_table(term: str, text: str) -> None:
    assert compile_filter((term,), (), False).check({"prompt": text}) == ALLOWED


def _code(i: int) -> str:
    """A distinct letters-only suffix (digits would be read as leetspeak: 6 and 9 both read as g)."""
    return "".join(chr(ord("k") + int(d)) for d in f"{i:03d}")


def test_among_hundreds_of_terms_the_verdict_names_the_one_that_matched() -> None:
    blocked = (*(f"blocked{_code(i)}" for i in range(300)), "nud*")
    review = (*(f"review{_code(i)} phrase" for i in range(200)), "re:\\bbikinis?\\b")
    check = compile_filter(blocked, review, True).check
    assert check({"prompt": "a lighthouse, 4k"}) == ALLOWED
    hit = check({"prompt": f"x blocked{_code(217)} y"})
    assert hit.matched_term_for_moderators == f"blocked{_code(217)} (blocked_terms)"
    hit = check({"prompt": f"REVIEW{_code(42)} phrase"})
    assert hit.matched_term_for_moderators == f"review{_code(42)} phrase (review_terms)"
    assert check({"prompt": "red bikini"}).matched_term_for_moderators == "re:\\bbikinis?\\b (review_terms)"
    # Block beats review and the built-in list comes first, wherever each one is in the text.
    both = check({"prompt": f"review{_code(7)} phrase, nudes, l0l1"})
    assert both.matched_term_for_moderators == f"loli ({BUILTIN_LIST})"
    assert check({"prompt": "bikini", "negative": f"blocked{_code(0)}"}).param == "negative"


def test_lists_too_large_for_one_expression_are_split(monkeypatch: pytest.MonkeyPatch) -> None:
    # With RE2 allowed very little memory the lists no longer fit in one expression each: the filter
    # compiles them in parts and still finds every term.
    monkeypatch.setattr("bot.moderation.linear_regex.MAX_MEMORY", 64 << 10)
    blocked = tuple(f"word{_code(i)}*x phrase{_code(i)}" for i in range(400))
    term_list = TermList("blocked_terms", FilterAction.BLOCK, parse_terms(blocked))
    check = PromptFilter([term_list]).check
    for i in (0, 199, 399):
        verdict = check({"prompt": f"a WORD{_code(i)}ox PHRASE{_code(i)} here"})
        assert verdict.matched_term_for_moderators == f"word{_code(i)}*x phrase{_code(i)} (blocked_terms)"
    assert check({"prompt": f"word{_code(5)}ox phrase{_code(6)}"}) == ALLOWED


def test_changed_terms_take_effect_at_once() -> None:
    texts = {"prompt": "a swimsuit"}
    assert check_texts(GuildPolicy(review_terms=("bikini",)), texts) == ALLOWED
    assert check_texts(GuildPolicy(review_terms=("bikini", "swimsuit")), texts).action is FilterAction.REVIEW
