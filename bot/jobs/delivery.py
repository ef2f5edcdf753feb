"""Handing finished jobs to whoever shows them to the member (Discord, the CLI, a test sink)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bot.jobs.model import Job, OutputRef


@dataclass(frozen=True, slots=True)
class Receipt:
    """Where a delivery landed, recorded so a job is never posted twice."""

    channel_id: int | None = None
    message_ids: tuple[int, ...] = field(default=())


class ResultSink(Protocol):
    """Posts results and final notices. Both calls may be repeated for the same job after a crash
    (between posting and the engine recording it), so an implementation must recognise a job it has
    already posted (e.g. by the job id it puts in the message) and return the earlier receipt."""

    async def deliver(self, job: Job, outputs: Sequence[OutputRef]) -> Receipt: ...

    async def notify_end(self, job: Job) -> Receipt: ...
