"""Stand-ins for the engine parts the metrics read, and JobUpdate builders."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from bot.jobs import Job, JobState, new_job
from bot.jobs.scheduler import FairScheduler, Waiting
from bot.jobs.updates import JobUpdate, UpdateHub

CREATED = 1_700_000_000.0


@dataclass
class StandInBackend:
    name: str
    display_name: str = "GPU"
    healthy: bool = True
    in_flight: set[str] = field(default_factory=set)
    capacity: int = 2


@dataclass
class StandInPool:
    backends: list[StandInBackend] = field(default_factory=list)


@dataclass
class StandInEngine:
    """What Metrics.attach reads of a JobEngine: a real scheduler and hub, stand-in backends."""

    scheduler: FairScheduler = field(default_factory=FairScheduler)
    pool: StandInPool = field(default_factory=StandInPool)
    updates: UpdateHub = field(default_factory=UpdateHub)


def standin_engine() -> StandInEngine:
    """One healthy backend with two prompts in flight, one backend down, an empty queue."""
    return StandInEngine(
        pool=StandInPool(
            [
                StandInBackend("gpu-a:8188", "Big GPU", in_flight={"j1", "j2"}),
                StandInBackend("gpu-b:8188", "Laptop", healthy=False),
            ]
        )
    )


def queue(scheduler: FairScheduler, job_id: str, *, lane: str = "default", user: int = 1) -> None:
    scheduler.add(Waiting(job_id, (1, user), lane, "imagine"))


def job(
    job_id: str = "job1",
    state: JobState = JobState.QUEUED,
    *,
    template: str = "imagine",
    backend: str | None = "gpu-a:8188",
    wait: float | None = 4.0,
    run: float | None = 12.0,
) -> Job:
    """A job in ``state`` that waited ``wait`` seconds and ran ``run`` seconds (None: never started)."""
    base = new_job(
        job_id=job_id, guild_id=1, channel_id=2, user_id=3, template=template, params={}, now=CREATED
    )
    started = None if wait is None else CREATED + wait
    finished = None if started is None or run is None else started + run
    return dataclasses.replace(base, state=state, backend=backend, started_at=started, finished_at=finished)


def update(job_id: str = "job1", state: JobState = JobState.QUEUED, **kwargs: object) -> JobUpdate:
    return JobUpdate(job=job(job_id, state, **kwargs))  # type: ignore[arg-type]
