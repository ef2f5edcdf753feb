"""Job progress for observers (the Discord publisher, the CLI), without letting them slow the engine.

Each observer gets a mailbox holding at most the latest update per job: publishing replaces an
unread intermediate update in place, so a slow observer sees fewer, fresher updates. Updates for a
job's terminal state are never replaced or dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from bot.jobmodel.model import Job
from bot.jobmodel.states import TERMINAL_STATES, JobState

log = logging.getLogger(__name__)

SEEN_JOBS = 10_000
"""How many jobs a mailbox remembers the latest sequence number of (the oldest are forgotten)."""


@dataclass(frozen=True, slots=True)
class JobUpdate:
    """A snapshot of where a job is, for display. ``job`` is the persisted record.

    ``seq`` orders updates as the engine produced them (one counter for all jobs; 0: not from the
    engine); whoever shows updates must never show one older than what it already showed of that job.
    """

    job: Job
    seq: int = 0
    position: int | None = None
    eta_seconds: float | None = None
    waiting_reason: str | None = None
    backend: str | None = None
    node: str | None = None
    step: int | None = None
    steps: int | None = None
    overall: float | None = None
    elapsed: float | None = None
    preview: bytes | None = field(default=None, repr=False)
    preview_mime: str | None = None

    @property
    def state(self) -> JobState:
        return self.job.state

    @property
    def is_final(self) -> bool:
        return self.job.state in TERMINAL_STATES or self.job.state is JobState.SUCCEEDED


class Mailbox:
    """One observer's inbox: latest-per-job for progress, every final update kept."""

    def __init__(self) -> None:
        self._latest: OrderedDict[str, JobUpdate] = OrderedDict()
        self._finals: list[JobUpdate] = []
        self._ready = asyncio.Event()
        self._seen: OrderedDict[str, int] = OrderedDict()
        self.replaced = 0
        self.stale = 0

    def put(self, update: JobUpdate) -> None:
        job_id = update.job.id
        if update.seq:
            if update.seq <= self._seen.get(job_id, 0):
                self.stale += 1  # produced before something this mailbox already has
                return
            self._seen[job_id] = update.seq
            self._seen.move_to_end(job_id)
            if len(self._seen) > SEEN_JOBS:
                self._seen.popitem(last=False)
        if update.is_final:
            self._latest.pop(update.job.id, None)
            self._finals.append(update)
        else:
            if update.job.id in self._latest:
                self.replaced += 1
            self._latest[update.job.id] = update
        self._ready.set()

    def drain(self) -> list[JobUpdate]:
        """Everything waiting, progress first then finals, so a final is never followed by progress."""
        items = [*self._latest.values(), *self._finals]
        self._latest.clear()
        self._finals.clear()
        self._ready.clear()
        return items

    async def get(self) -> list[JobUpdate]:
        await self._ready.wait()
        return self.drain()

    async def __aiter__(self) -> AsyncIterator[JobUpdate]:
        while True:
            for update in await self.get():
                yield update


class UpdateHub:
    """Fan-out of JobUpdates to mailboxes; publishing never awaits."""

    def __init__(self) -> None:
        self._all: list[Mailbox] = []
        self._by_job: dict[str, list[Mailbox]] = {}

    def subscribe(self, job_id: str | None = None) -> Mailbox:
        box = Mailbox()
        if job_id is None:
            self._all.append(box)
        else:
            self._by_job.setdefault(job_id, []).append(box)
        return box

    def unsubscribe(self, box: Mailbox) -> None:
        if box in self._all:
            self._all.remove(box)
        for boxes in self._by_job.values():
            if box in boxes:
                boxes.remove(box)

    def publish(self, update: JobUpdate) -> None:
        for box in (*self._all, *self._by_job.get(update.job.id, ())):
            box.put(update)
        if update.job.state in TERMINAL_STATES:
            self._by_job.pop(update.job.id, None)
