"""Job states and the one table of legal moves between them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Final

from bot.errors import JobError


class JobState(StrEnum):
    """Where a job is in its life; the value is what the database stores."""

    PENDING_REVIEW = "pending_review"
    QUEUED = "queued"
    DISPATCHED = "dispatched"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    HELD = "held"
    RELEASED = "released"
    DELIVERED = "delivered"
    WITHHELD = "withheld"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    FAILED = "failed"


_S = JobState

TRANSITIONS: Final[Mapping[JobState, frozenset[JobState]]] = {
    _S.PENDING_REVIEW: frozenset({_S.QUEUED, _S.REJECTED, _S.CANCELLED}),
    _S.QUEUED: frozenset({_S.DISPATCHED, _S.CANCELLED, _S.FAILED}),
    # Back to QUEUED when the backend died under the job; SUCCEEDED straight away for jobs so fast
    # that the first event we see is the end of the run.
    _S.DISPATCHED: frozenset({_S.RUNNING, _S.QUEUED, _S.SUCCEEDED, _S.FAILED, _S.CANCELLED}),
    _S.RUNNING: frozenset({_S.SUCCEEDED, _S.FAILED, _S.CANCELLED, _S.QUEUED}),
    # Results exist but the user has not got them yet: delivery is a state of its own. Output
    # screening may hold them for a moderator (HELD) or withhold them outright (WITHHELD).
    _S.SUCCEEDED: frozenset({_S.DELIVERED, _S.HELD, _S.WITHHELD}),
    # A moderator decides: released results are delivered like any others, never screened again.
    _S.HELD: frozenset({_S.RELEASED, _S.WITHHELD}),
    _S.RELEASED: frozenset({_S.DELIVERED}),
    _S.DELIVERED: frozenset(),
    _S.WITHHELD: frozenset(),
    _S.REJECTED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.FAILED: frozenset(),
}
"""Every legal ``from -> to`` move; anything missing raises IllegalTransition."""

TERMINAL_STATES: Final = frozenset(s for s, targets in TRANSITIONS.items() if not targets)
"""States nothing leaves."""

NOTICE_STATES: Final = frozenset({_S.REJECTED, _S.CANCELLED, _S.FAILED, _S.WITHHELD})
"""Terminal states whose final status (the reason) must still reach the user: see deliveries."""

TO_DELIVER_STATES: Final = frozenset({_S.SUCCEEDED, _S.RELEASED})
"""Results wait in the spool to be posted: the deliverer's work (also after a restart)."""

WAITING_STATES: Final = frozenset({_S.PENDING_REVIEW, _S.QUEUED})
"""Accepted but not yet handed to a backend."""

IN_FLIGHT_STATES: Final = frozenset({_S.DISPATCHED, _S.RUNNING})
"""Handed to a backend; recovery must reconcile these after a restart."""

OPEN_STATES: Final = WAITING_STATES | IN_FLIGHT_STATES
"""Still working towards a result: these count against queue limits."""

FINISHED_STATES: Final = frozenset({_S.SUCCEEDED, _S.FAILED, _S.CANCELLED, _S.REJECTED})
"""Entering one of these stamps ``finished_at``."""


class IllegalTransition(JobError):
    """A state change the table forbids, or one based on a stale view of the job."""

    def __init__(
        self, job_id: str, current: JobState, target: JobState, expected: Iterable[JobState] = ()
    ) -> None:
        self.job_id = job_id
        self.current = current
        self.target = target
        self.expected = frozenset(expected)
        if self.expected and current not in self.expected:
            why = f"expected it to be {' or '.join(sorted(s.value for s in self.expected))}"
        else:
            why = "that move is not allowed"
        super().__init__(
            f"This job is already {current.value.replace('_', ' ')}.",
            detail=f"job={job_id}: cannot go {current.value} -> {target.value} ({why})",
        )


def is_legal(current: JobState, target: JobState) -> bool:
    """Whether the table allows ``current -> target``."""
    return target in TRANSITIONS[current]


def check_transition(
    job_id: str, current: JobState, target: JobState, expected: Iterable[JobState] | None = None
) -> None:
    """Raise IllegalTransition unless ``current`` is expected (when given) and the move is legal."""
    expected_set = frozenset(expected) if expected is not None else None
    if expected_set is not None and current not in expected_set:
        raise IllegalTransition(job_id, current, target, expected_set)
    if not is_legal(current, target):
        raise IllegalTransition(job_id, current, target, expected_set or ())
