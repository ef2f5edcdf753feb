"""The transition table: its shape, and the error for anything outside it."""

from __future__ import annotations

import pytest

from bot.errors import JobError
from bot.jobs import (
    IN_FLIGHT_STATES,
    NOTICE_STATES,
    OPEN_STATES,
    TERMINAL_STATES,
    TO_DELIVER_STATES,
    TRANSITIONS,
    WAITING_STATES,
    IllegalTransition,
    JobState,
    check_transition,
    is_legal,
)

S = JobState

EXPECTED = {
    S.PENDING_REVIEW: {S.QUEUED, S.REJECTED, S.CANCELLED},
    S.QUEUED: {S.DISPATCHED, S.CANCELLED, S.FAILED},
    S.DISPATCHED: {S.RUNNING, S.QUEUED, S.SUCCEEDED, S.FAILED, S.CANCELLED},
    S.RUNNING: {S.SUCCEEDED, S.FAILED, S.CANCELLED, S.QUEUED},
    S.SUCCEEDED: {S.DELIVERED, S.HELD, S.WITHHELD},
    S.HELD: {S.RELEASED, S.WITHHELD},
    S.RELEASED: {S.DELIVERED},
    S.DELIVERED: set(),
    S.WITHHELD: set(),
    S.REJECTED: set(),
    S.CANCELLED: set(),
    S.FAILED: set(),
}


def test_table_is_exactly_the_specified_one() -> None:
    assert {state: set(targets) for state, targets in TRANSITIONS.items()} == EXPECTED


def test_state_groups() -> None:
    assert {S.DELIVERED, S.WITHHELD, S.REJECTED, S.CANCELLED, S.FAILED} == TERMINAL_STATES
    assert {S.REJECTED, S.CANCELLED, S.FAILED, S.WITHHELD} == NOTICE_STATES
    assert {S.SUCCEEDED, S.RELEASED} == TO_DELIVER_STATES
    assert OPEN_STATES == WAITING_STATES | IN_FLIGHT_STATES
    assert not OPEN_STATES & TERMINAL_STATES
    assert set(S) == OPEN_STATES | TERMINAL_STATES | TO_DELIVER_STATES | {S.HELD}


def test_delivered_is_reachable_only_from_results_on_their_way() -> None:
    assert {s for s in S if is_legal(s, S.DELIVERED)} == TO_DELIVER_STATES


def test_held_results_are_not_terminal_so_the_janitor_keeps_them() -> None:
    assert S.HELD not in TERMINAL_STATES
    assert S.RELEASED not in TERMINAL_STATES


def test_released_results_are_never_held_again() -> None:
    assert not is_legal(S.RELEASED, S.HELD)
    assert not is_legal(S.RELEASED, S.WITHHELD)
    assert [s for s in S if is_legal(s, S.RELEASED)] == [S.HELD]


def test_nothing_goes_back_to_review() -> None:
    assert not any(is_legal(s, S.PENDING_REVIEW) for s in S)


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_check_transition_matches_the_table(current: JobState, target: JobState) -> None:
    if target in EXPECTED[current]:
        check_transition("AAAAAAAA", current, target)
    else:
        with pytest.raises(IllegalTransition):
            check_transition("AAAAAAAA", current, target)


def test_expected_states_are_checked_first() -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_transition("AAAAAAAA", S.RUNNING, S.QUEUED, expected=[S.DISPATCHED])
    assert caught.value.expected == {S.DISPATCHED}
    assert "expected it to be dispatched" in str(caught.value)


def test_illegal_transition_is_a_user_safe_job_error() -> None:
    error = IllegalTransition("AB12CD34", S.PENDING_REVIEW, S.DELIVERED)
    assert isinstance(error, JobError)
    assert error.user_message == "This job is already pending review."
    assert "job=AB12CD34" in str(error)
    assert "pending_review -> delivered" in str(error)
