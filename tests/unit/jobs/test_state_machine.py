"""Property tests of the lifecycle: random walks over the transition table, pure and persisted."""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from bot.jobs import (
    TERMINAL_STATES,
    TRANSITIONS,
    IllegalTransition,
    Job,
    JobState,
    advance,
    is_legal,
    new_job,
)
from bot.storage import Database, JobRepository

STATES = st.sampled_from(list(JobState))
S = JobState
# Hypothesis leans towards the first choices: put progress first so full lifecycles are common.
FORWARD_FIRST = [
    S.DELIVERED,
    S.SUCCEEDED,
    S.RUNNING,
    S.DISPATCHED,
    S.QUEUED,
    S.FAILED,
    S.CANCELLED,
    S.REJECTED,
]


def _fresh(state: JobState) -> Job:
    return new_job(
        job_id="AB12CD34",
        guild_id=1,
        channel_id=2,
        user_id=3,
        template="imagine",
        params={"seed": 1},
        now=0.0,
        state=state,
    )


def _check_history(history: list[JobState]) -> None:
    for before, after in itertools.pairwise(history):
        assert is_legal(before, after)
        assert before not in TERMINAL_STATES
        if after is JobState.DELIVERED:
            assert before is JobState.SUCCEEDED


@given(start=st.sampled_from([JobState.PENDING_REVIEW, JobState.QUEUED]), targets=st.lists(STATES))
def test_random_walks_stay_inside_the_table(start: JobState, targets: list[JobState]) -> None:
    job = _fresh(start)
    history = [job.state]
    for step, target in enumerate(targets, start=1):
        legal = is_legal(job.state, target)
        try:
            moved = advance(job, target, now=float(step))
        except IllegalTransition:
            assert not legal
            continue
        assert legal
        assert moved.updated_at == step
        assert moved.attempts >= job.attempts
        job = moved
        history.append(job.state)
    _check_history(history)
    assert job.state in JobState
    if job.state in TERMINAL_STATES or job.state is JobState.SUCCEEDED:
        assert job.finished_at is not None


class PersistedLifecycle(RuleBasedStateMachine):
    """Drive one stored job with random (often illegal, sometimes stale) transitions.

    The repository must agree with the pure model at every step: same acceptance, same resulting
    value, nothing written on refusal.
    """

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.runner = asyncio.Runner()
        self.folder = tempfile.TemporaryDirectory()
        self.db = self.runner.run(Database.open(Path(self.folder.name) / "db.sqlite3", clock=self.clock))
        self.repo = JobRepository(self.db)
        self.history: list[JobState] = []

    @initialize(start=st.sampled_from([JobState.PENDING_REVIEW, JobState.QUEUED]))
    def insert(self, start: JobState) -> None:
        self.model = self.runner.run(self.repo.insert(_fresh(start)))
        self.history.append(start)

    def clock(self) -> float:
        return self.now

    @rule(to_state=STATES, stale=st.booleans())
    def move(self, to_state: JobState, stale: bool) -> None:
        self.now += 1
        # A stale caller believes the job is in some other state than it is.
        believed = {s for s in JobState if s is not self.model.state} if stale else {self.model.state}
        should_work = not stale and is_legal(self.model.state, to_state)
        try:
            stored = self.runner.run(self.repo.transition(self.model.id, believed, to_state))
        except IllegalTransition:
            assert not should_work
            return
        assert should_work
        assert stored == advance(self.model, to_state, now=self.now)
        self.model = stored
        self.history.append(stored.state)

    @precondition(lambda self: self.model.state not in TERMINAL_STATES)
    @rule(data=st.data())
    def legal_move(self, data: st.DataObject) -> None:
        # Random targets are mostly illegal; this rule makes sure long lifecycles get explored too.
        to_state = data.draw(
            st.sampled_from([s for s in FORWARD_FIRST if s in TRANSITIONS[self.model.state]])
        )
        self.move(to_state, stale=False)

    @precondition(lambda self: self.model.state not in TERMINAL_STATES)
    @rule(field=st.sampled_from(["prompt_id", "lane"]), value=st.text(min_size=1, max_size=8))
    def revise(self, field: str, value: str) -> None:
        self.now += 1
        if field == "prompt_id":
            stored = self.runner.run(self.repo.update(self.model.id, prompt_id=value))
        else:
            stored = self.runner.run(self.repo.update(self.model.id, lane=value))
        assert stored.state is self.model.state
        self.model = stored

    @invariant()
    def database_agrees_with_the_model(self) -> None:
        assert self.runner.run(self.repo.require(self.model.id)) == self.model

    @invariant()
    def history_is_legal(self) -> None:
        _check_history(self.history)

    def teardown(self) -> None:
        self.runner.run(self.db.close())
        self.runner.close()
        self.folder.cleanup()


PersistedLifecycle.TestCase.settings = settings(max_examples=50, stateful_step_count=30, deadline=None)
test_persisted_lifecycle = PersistedLifecycle.TestCase
