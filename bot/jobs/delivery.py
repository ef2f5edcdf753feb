"""Handing finished jobs to whoever shows them to the member (Discord, the CLI, a test sink)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bot.jobmodel.model import Job, OutputRef
from bot.jobmodel.states import JobState


@dataclass(frozen=True, slots=True)
class Receipt:
    """Where a delivery landed, recorded so a job is never posted twice.

    ``outcome`` is where the job goes next: DELIVERED (the results were posted), HELD (output
    screening put them before a moderator; the member was told to wait) or WITHHELD (screening
    withheld them; the member was told why). Only a job that was never released may be held back.
    """

    channel_id: int | None = None
    message_ids: tuple[int, ...] = field(default=())
    outcome: JobState = JobState.DELIVERED


class ResultSink(Protocol):
    """Posts results and final notices. The engine records the receipt and never asks again once it
    did, but a crash between a post and its record repeats the call: an implementation must make the
    repeat harmless (edit the same message; post new messages with a nonce derived from the job; skip
    parts it recorded itself)."""

    async def deliver(self, job: Job, outputs: Sequence[OutputRef]) -> Receipt:
        """Post the results of a SUCCEEDED or RELEASED job (a RELEASED one in full: a moderator
        already looked at it)."""
        ...

    async def notify_end(self, job: Job) -> Receipt:
        """Tell the member how a job ended without results (its failure reason, if any)."""
        ...
