"""check_texts: verdicts over every text parameter, block before review, no term echoed to members."""

from __future__ import annotations

import logging

import pytest

from bot.moderation.filters import ALLOWED, BUILTIN_LIST, FilterAction, check_texts, compile_filter
from bot.moderation.settings import GuildPolicy

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
        verdict = check_texts(GuildPolicy(blocked_terms=("re:(a+)+", "gore")), {"prompt": "gore"})
    assert verdict.action is FilterAction.BLOCK
    assert "skipping unusable term" in caplog.text


def test_compiled_filters_are_reused() -> None:
    compile_filter.cache_clear()
    check_texts(POLICY, {"prompt": "x"})
    check_texts(
        GuildPolicy(blocked_terms=POLICY.blocked_terms, review_terms=POLICY.review_terms), {"prompt": "y"}
    )
    assert compile_filter.cache_info().hits == 1
