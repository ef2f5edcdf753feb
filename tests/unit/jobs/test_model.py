"""Pure job values: creation, and the bookkeeping each move does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.jobs import (
    IllegalTransition,
    InputRef,
    Job,
    JobState,
    MessageRef,
    advance,
    new_job,
    revise,
)

S = JobState


def _job(state: JobState = S.QUEUED) -> Job:
    return new_job(
        job_id="AB12CD34",
        guild_id=None,
        channel_id=2,
        user_id=3,
        template="imagine",
        params={"prompt": "p", "seed": 42},
        now=100.0,
        state=state,
        inputs=[InputRef("image", Path("in/a.png"), "aa", "a.png")],
    )


def test_new_job_defaults() -> None:
    job = _job()
    assert job.state is S.QUEUED
    assert (job.created_at, job.updated_at) == (100.0, 100.0)
    assert job.lane == "default"
    assert (job.backend, job.prompt_id, job.attempts, job.failure_reason) == (None, None, 0, None)
    assert (job.started_at, job.finished_at, job.status_message) == (None, None, None)
    assert job.params["seed"] == 42
    assert not job.is_terminal


def test_new_job_copies_params() -> None:
    params = {"seed": 1}
    job = new_job(job_id="AB12CD34", guild_id=1, channel_id=2, user_id=3, template="t", params=params, now=0)
    params["seed"] = 2
    assert job.params["seed"] == 1


@pytest.mark.parametrize("state", [S.RUNNING, S.DELIVERED, S.FAILED])
def test_new_job_starts_waiting(state: JobState) -> None:
    with pytest.raises(ValueError, match="starts"):
        _job(state)


def test_new_job_params_must_be_json() -> None:
    with pytest.raises(ValueError, match="JSON"):
        new_job(
            job_id="AB12CD34", guild_id=1, channel_id=2, user_id=3, template="t", params={"x": {1, 2}}, now=0
        )


def test_job_is_frozen() -> None:
    job = _job()
    with pytest.raises(AttributeError):
        job.state = S.RUNNING  # type: ignore[misc]


def test_happy_path_bookkeeping() -> None:
    job = advance(_job(S.PENDING_REVIEW), S.QUEUED, now=101)
    assert job.state is S.QUEUED
    job = advance(job, S.DISPATCHED, now=102, backend="http://gpu1", prompt_id="p-1")
    assert (job.state, job.backend, job.prompt_id, job.attempts) == (S.DISPATCHED, "http://gpu1", "p-1", 1)
    job = advance(job, S.RUNNING, now=103)
    assert (job.state, job.started_at, job.prompt_id) == (S.RUNNING, 103, "p-1")
    job = advance(job, S.SUCCEEDED, now=110)
    assert (job.state, job.finished_at, job.updated_at) == (S.SUCCEEDED, 110, 110)
    job = advance(job, S.DELIVERED, now=111)
    assert job.state is S.DELIVERED
    assert job.finished_at == 110  # finished when the run ended, not when it was delivered
    assert job.is_terminal
    assert not job.ends_with_notice


def test_requeue_and_redispatch() -> None:
    job = advance(advance(_job(), S.DISPATCHED, now=101, backend="gpu1"), S.RUNNING, now=102, prompt_id="p-1")
    job = advance(job, S.QUEUED, now=103)
    assert (job.state, job.backend, job.prompt_id, job.started_at) == (S.QUEUED, None, None, None)
    assert job.attempts == 1
    job = advance(job, S.DISPATCHED, now=104, backend="gpu2")
    assert job.attempts == 2
    assert job.params["seed"] == 42  # the re-run uses the same seed


def test_fast_job_succeeds_from_dispatched() -> None:
    job = advance(advance(_job(), S.DISPATCHED, now=101, backend="gpu1"), S.SUCCEEDED, now=102)
    assert job.state is S.SUCCEEDED
    assert job.started_at is None


@pytest.mark.parametrize(
    ("move", "state"),
    [
        (lambda j: advance(j, S.REJECTED, now=200, failure_reason="Not allowed here."), S.REJECTED),
        (lambda j: advance(j, S.CANCELLED, now=200, failure_reason="Cancelled by a moderator."), S.CANCELLED),
    ],
)
def test_review_endings_keep_the_reason(move: Callable[[Job], Job], state: JobState) -> None:
    job = move(_job(S.PENDING_REVIEW))
    assert job.state is state
    assert job.failure_reason
    assert job.finished_at == 200
    assert job.ends_with_notice


def test_fail_keeps_the_reason() -> None:
    dispatched = advance(_job(), S.DISPATCHED, now=101, backend="gpu1")
    job = advance(dispatched, S.FAILED, now=150, failure_reason="The image server crashed.")
    assert (job.state, job.failure_reason, job.finished_at) == (S.FAILED, "The image server crashed.", 150)


def test_explicit_changes_win_over_defaults() -> None:
    job = advance(_job(), S.DISPATCHED, now=101, backend="gpu1", attempts=7)
    assert job.attempts == 7


def test_illegal_moves_raise() -> None:
    with pytest.raises(IllegalTransition):
        advance(_job(), S.DELIVERED, now=101)
    with pytest.raises(IllegalTransition):
        advance(_job(S.QUEUED), S.QUEUED, now=101)
    with pytest.raises(IllegalTransition):
        advance(_job(), S.DISPATCHED, now=101, expected=[S.RUNNING])


def test_revise_keeps_the_state() -> None:
    job = revise(_job(), now=105, status_message=MessageRef(2, 99))
    assert job.state is S.QUEUED
    assert job.status_message == MessageRef(2, 99)
    assert job.updated_at == 105
