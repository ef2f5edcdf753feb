"""The job record and pure functions that move it from state to state.

A ``Job`` is an immutable value. Every change produces a new ``Job`` through ``advance`` (state moves,
checked against the transition table) or ``revise`` (bookkeeping only); the storage layer persists the
very same computation, so the rules live in one place.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, Unpack

from bot.jobmodel.states import (
    FINISHED_STATES,
    IN_FLIGHT_STATES,
    NOTICE_STATES,
    TERMINAL_STATES,
    JobState,
    check_transition,
)
from bot.media.kinds import OutputKind

JSONObject = dict[str, Any]

DEFAULT_LANE = "default"


@dataclass(frozen=True, slots=True)
class InputRef:
    """A file a member attached, kept in the spool until the job no longer needs it."""

    param: str
    path: Path
    sha256: str
    filename: str


@dataclass(frozen=True, slots=True)
class OutputRef:
    """One final result a job produced, already written to the spool: an image, an animation, a
    video, an audio file or a text (``kind``), of type ``mime``."""

    index: int
    path: Path
    sha256: str
    mime: str
    width: int | None = None
    height: int | None = None
    node_id: str | None = None
    kind: OutputKind = OutputKind.IMAGE

    @property
    def visual(self) -> bool:
        """Shown as media (an image, an animation or a video)."""
        return self.kind.visual


@dataclass(frozen=True, slots=True)
class MessageRef:
    """Where a job's status message lives; ``message_id`` is None until it is posted."""

    channel_id: int
    message_id: int | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """One request to run a template, as the database stores it. Treat ``params`` as read-only."""

    id: str
    guild_id: int | None
    channel_id: int
    user_id: int
    template: str
    params: Mapping[str, Any]
    state: JobState
    created_at: float
    updated_at: float
    inputs: tuple[InputRef, ...] = ()
    lane: str = DEFAULT_LANE
    backend: str | None = None
    prompt_id: str | None = None
    attempts: int = 0
    failure_reason: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    status_message: MessageRef | None = field(default=None)
    notice: str | None = None
    """The latest word for the member about a job still on its way (e.g. why it started over)."""
    age_restricted: bool | None = None
    """Made in an age-restricted channel, so its results stay in such channels (None: not recorded,
    for jobs stored before it was)."""
    template_version: str | None = None
    """The version of the template the job was validated against, which it runs even if the template
    is edited meanwhile (None: stored before versions were recorded, it runs the current one)."""

    @property
    def is_terminal(self) -> bool:
        """Nothing will ever happen to this job again (apart from telling the user how it ended)."""
        return self.state in TERMINAL_STATES

    @property
    def ends_with_notice(self) -> bool:
        """It ended without results, so its final status is what the user must see."""
        return self.state in NOTICE_STATES


class JobChanges(TypedDict, total=False):
    """Fields a transition or revision may set besides the state (``updated_at`` is always stamped)."""

    lane: str
    backend: str | None
    prompt_id: str | None
    attempts: int
    failure_reason: str | None
    started_at: float | None
    finished_at: float | None
    status_message: MessageRef | None
    notice: str | None


def new_job(
    *,
    job_id: str,
    guild_id: int | None,
    channel_id: int,
    user_id: int,
    template: str,
    params: Mapping[str, Any],
    now: float,
    inputs: Iterable[InputRef] = (),
    state: JobState = JobState.QUEUED,
    lane: str = DEFAULT_LANE,
    status_message: MessageRef | None = None,
    age_restricted: bool | None = None,
    template_version: str | None = None,
) -> Job:
    """A job as it enters the system: waiting for review or already queued."""
    if state not in (JobState.PENDING_REVIEW, JobState.QUEUED):
        raise ValueError(f"a new job starts PENDING_REVIEW or QUEUED, not {state.value}")
    try:
        # Fail here, at the caller, rather than later inside a database write.
        json.dumps(params)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"job params must be JSON-serialisable: {exc}") from exc
    return Job(
        id=job_id,
        guild_id=guild_id,
        channel_id=channel_id,
        user_id=user_id,
        template=template,
        params=dict(params),
        state=state,
        created_at=now,
        updated_at=now,
        inputs=tuple(inputs),
        lane=lane,
        status_message=status_message,
        age_restricted=age_restricted,
        template_version=template_version,
    )


def advance(
    job: Job,
    target: JobState,
    *,
    now: float,
    expected: Iterable[JobState] | None = None,
    **changes: Unpack[JobChanges],
) -> Job:
    """Move ``job`` to ``target`` or raise IllegalTransition; explicit ``changes`` win over defaults.

    Defaults keep the bookkeeping consistent: each dispatch counts an attempt, a re-queue forgets the
    backend and prompt, RUNNING stamps ``started_at`` once, ending a run stamps ``finished_at``.
    """
    check_transition(job.id, job.state, target, expected)
    auto: JobChanges = {}
    if target is JobState.DISPATCHED:
        auto["attempts"] = job.attempts + 1
    elif target is JobState.RUNNING:
        auto["started_at"] = job.started_at if job.started_at is not None else now
    elif target is JobState.QUEUED and job.state in IN_FLIGHT_STATES:
        auto["backend"] = None
        auto["prompt_id"] = None
        auto["started_at"] = None
    if target in FINISHED_STATES:
        auto["finished_at"] = now
        auto["notice"] = None  # what was said on the way no longer matters once the job ended
    auto.update(changes)
    return dataclasses.replace(job, state=target, updated_at=now, **auto)


def revise(job: Job, *, now: float, **changes: Unpack[JobChanges]) -> Job:
    """Change bookkeeping fields (status message, prompt id, ...) without moving the state."""
    return dataclasses.replace(job, updated_at=now, **changes)
