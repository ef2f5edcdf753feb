"""Job progress and results into Discord: throttled status edits, then the final results.

The publisher reads the engine's update stream (a mailbox that keeps only the latest progress per
job, so Discord can never slow the engine) and hands edits to the throttle. It is also the engine's
ResultSink: delivery edits the status message into the result (a gallery for a batch, see results.py),
which is naturally idempotent (the same edit twice leaves one message), with overflow files in
follow-up messages.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import discord

from bot.discord_ui.components import waiting_view
from bot.discord_ui.render import status_embed
from bot.discord_ui.results import (
    PreparedResult,
    ResultButtons,
    ResultFile,
    prepare_results,
    result_message,
)
from bot.discord_ui.status import Payload, StatusMessages, message_nonce
from bot.discord_ui.throttle import EditThrottle
from bot.jobmodel.model import Job, OutputRef
from bot.jobmodel.states import JobState
from bot.jobs.delivery import Receipt
from bot.jobs.engine import JobEngine
from bot.jobs.updates import JobUpdate
from bot.media.fitter import MediaFitter
from bot.supervisor import Supervisor

if TYPE_CHECKING:
    from bot.discord_ui.review import Screened

log = logging.getLogger(__name__)

PROGRESS_STATES = (JobState.PENDING_REVIEW, JobState.QUEUED, JobState.DISPATCHED, JobState.RUNNING)
IN_FLIGHT = (JobState.DISPATCHED, JobState.RUNNING)
MAX_REFITS = 4  # deliveries refused as too large are re-fitted to a smaller size this many times


class Publisher:
    """Keeps status messages current and delivers results; owns its reader task."""

    def __init__(
        self,
        engine: JobEngine,
        messages: StatusMessages,
        throttle: EditThrottle,
        *,
        buttons_for: Callable[[str], ResultButtons],
        file_limit: Callable[[Job], int],
        fitter: MediaFitter,
        previews: bool = True,
        screen: Callable[[Job, list[ResultFile]], Awaitable[Screened]] | None = None,
    ) -> None:
        """``screen`` (output screening, see review/holds.py) may spoiler files, hold them for a
        moderator or withhold them. ``fitter`` makes results fit the channel's upload limit."""
        self._engine = engine
        self._messages = messages
        self._throttle = throttle
        self._buttons_for = buttons_for
        self._file_limit = file_limit
        self._fitter = fitter
        self._previews = previews
        self._screen = screen
        self._box = engine.updates.subscribe()
        # One job's status message is changed by one coroutine at a time, so a progress edit can
        # never land after (and hide) the result, and a deleted message is replaced only once.
        self._locks: dict[str, asyncio.Lock] = {}
        self._queued: dict[str, int] = {}  # waiting job -> its channel, to refresh positions
        self._shown: dict[str, object] = {}
        self._shown_seq: dict[str, int] = {}  # the newest engine update each message showed
        self.results_waiting: set[str] = set()
        """Jobs whose result waits, right now, for a status edit still on its way to Discord."""

    def start(self, supervisor: Supervisor) -> None:
        supervisor.loop("status-publisher", self._run)

    async def close(self) -> None:
        self._engine.updates.unsubscribe(self._box)

    async def _run(self) -> None:
        while True:
            queue_moved = False
            for update in await self._box.get():
                job_id = update.job.id
                if update.state is JobState.QUEUED:
                    self._queued[job_id] = update.job.channel_id
                elif self._queued.pop(job_id, None) is not None:
                    queue_moved = True
                if update.job.state in PROGRESS_STATES:
                    self._schedule(update)
            if queue_moved:
                self._refresh_positions()

    def _schedule(self, update: JobUpdate) -> None:
        job = update.job
        if not self._messages.known(job.id) and job.status_message is None:
            return  # the command handler posts the first rendering itself
        self._throttle.submit(job.channel_id, job.id, lambda: self._show_progress(update))

    def _refresh_positions(self) -> None:
        """A job left the queue: the ones behind it moved up. Low priority, computed when sent."""
        for waiting in self._engine.scheduler.waiting():
            channel = self._queued.get(waiting.job_id)
            if channel is not None:
                refresh = functools.partial(self._show_position, waiting.job_id)
                self._throttle.submit(channel, waiting.job_id, refresh, low=True)

    async def _show_position(self, job_id: str) -> None:
        current = await self._engine.jobs.get(job_id)
        if current is None or current.state is not JobState.QUEUED:
            return
        place = self._engine.position(job_id)
        if place is None:
            return
        update = JobUpdate(
            job=current,
            position=place[0],
            eta_seconds=place[1],
            waiting_reason=self._engine.pool.why_waiting(current.template),
        )
        await self._show_progress(update)

    def _lock(self, job_id: str) -> asyncio.Lock:
        return self._locks.setdefault(job_id, asyncio.Lock())

    def _done_with(self, job_id: str) -> None:
        self._messages.forget(job_id)
        self._throttle.forget(job_id)
        self._locks.pop(job_id, None)
        self._queued.pop(job_id, None)
        self._shown.pop(job_id, None)
        self._shown_seq.pop(job_id, None)

    async def _show_progress(self, update: JobUpdate) -> None:
        async with self._lock(update.job.id):
            await self._show_progress_locked(update)

    async def _show_progress_locked(self, update: JobUpdate) -> None:
        if update.seq and update.seq < self._shown_seq.get(update.job.id, 0):
            return  # produced before what the message already shows
        current = await self._engine.jobs.get(update.job.id)
        if current is None or current.state not in PROGRESS_STATES:
            return  # it moved on while this edit waited: delivery owns the message now
        if self._messages.ref(current) is None:
            return  # the command handler has not shown its first rendering yet
        if current.state is not update.state:
            if not (current.state in IN_FLIGHT and update.state in IN_FLIGHT):
                return  # stale (e.g. queued again for a retry): the newer update has its own edit
            # The runner's progress carries the job as dispatched; show the persisted state.
            update = replace(update, job=current)
        preview = update.preview if self._previews and update.preview_mime == "image/jpeg" else None
        if preview is not None and len(preview) > self._file_limit(current):
            preview = None  # a preview is not worth a refused edit
        files = [("preview.jpg", preview)] if preview is not None else []
        backend_name = self._engine.pool.display_name(current.backend)
        embed = status_embed(update, previews=bool(files), backend_name=backend_name)
        shown = (json.dumps(embed.to_dict(), sort_keys=True), hash(preview))
        if self._shown.get(current.id) == shown:
            return  # e.g. a queue refresh that found the same position
        try:
            # The throttle took this request out of the channel's budget before calling us.
            await self._messages.show(
                current, Payload(embed=embed, files=files, view=waiting_view(current.id)), paid=True
            )
        except discord.HTTPException as exc:
            if preview is None or not _too_large(exc):
                raise
            # The channel's limit is lower than we thought: learn it, and show progress without a preview.
            self._messages.lower_upload_limit(current.channel_id, len(preview) - 1)
            embed = status_embed(update, previews=False, backend_name=backend_name)
            await self._messages.show(current, Payload(embed=embed, view=waiting_view(current.id)), paid=True)
        self._shown[current.id] = shown
        if update.seq:
            self._shown_seq[current.id] = update.seq

    # --- the ResultSink side --------------------------------------------------------------------------

    async def deliver(self, job: Job, outputs: Sequence[OutputRef]) -> Receipt:
        """Turn the status message into the result; files beyond one message go to follow-ups."""
        await self._messages.wait_ready(job)
        lock = self._lock(job.id)
        if lock.locked():
            # A progress edit is on its way to Discord: had the result gone first, that edit would land
            # after it and hide it. It waits (a progress edit retried on 429s can take a while).
            log.info("job=%s posting the result waits for the status edit in flight", job.id)
            self.results_waiting.add(job.id)
        try:
            async with lock:
                self.results_waiting.discard(job.id)
                receipt = await self._deliver_locked(job, outputs)
        finally:
            self.results_waiting.discard(job.id)
        self._done_with(job.id)
        return receipt

    async def _deliver_locked(self, job: Job, outputs: Sequence[OutputRef]) -> Receipt:
        limit = self._file_limit(job)
        prepared = await self._prepare(job, outputs, limit)
        if self._screen is not None:
            screened = await self._screen(job, prepared.files)
            if screened.outcome is not JobState.DELIVERED:  # held or withheld: a notice, no results
                ref = await self._messages.show(job, Payload(embed=screened.notice, view=None))
                return Receipt(ref.channel_id, (ref.message_id or 0,), outcome=screened.outcome)
            prepared = prepared.with_files(screened.files)
        for attempt in range(1, MAX_REFITS + 1):
            message = result_message(
                job,
                prepared,
                self._buttons_for(job.template),
                backend_name=self._engine.pool.display_name(job.backend),
            )
            try:
                ref = await self._messages.show(job, message.payload)
                break
            except discord.HTTPException as exc:
                if not _too_large(exc) or attempt == MAX_REFITS or not prepared.files:
                    raise
                # Our idea of the channel's limit was wrong (e.g. after a restart, or the guild
                # lost boosts): fit everything again below the largest refused file, and remember it.
                limit = max(1, max(len(f.data) for f in prepared.files) // 2)
                log.info("job=%s files refused as too large; fitting them to %d bytes", job.id, limit)
                self._messages.lower_upload_limit(job.channel_id, limit)
                spoilered = {f.output for f in prepared.files if f.spoiler}
                prepared = await self._prepare(job, outputs, limit)
                prepared = prepared.with_files(
                    [f.as_spoiler() if f.output in spoilered else f for f in prepared.files]
                )
        message_ids = [ref.message_id or 0]
        posted = await self._engine.deliveries.parts(job.id)
        for number, chunk in enumerate(message.overflow, start=2):
            if number not in posted:  # parts posted before a crash are not posted again
                posted[number] = await self._messages.post_plain(
                    ref.channel_id,
                    f"`{job.id}` results, part {number}",
                    [(f.upload_name, f.data) for f in chunk],
                    nonce=message_nonce(job.id, f"part:{number}"),
                )
                await self._engine.deliveries.record_part(
                    job.id, number, channel_id=ref.channel_id, message_id=posted[number]
                )
            message_ids.append(posted[number])
        return Receipt(ref.channel_id, tuple(message_ids))

    async def _prepare(self, job: Job, outputs: Sequence[OutputRef], limit: int) -> PreparedResult:
        return await prepare_results(job, outputs, spool=self._engine.spool, fitter=self._fitter, limit=limit)

    async def notify_end(self, job: Job) -> Receipt:
        """A job ended without results: show why on its status message."""
        await self._messages.wait_ready(job, timeout=2.0)
        async with self._lock(job.id):
            ref = await self._messages.show(job, Payload(embed=status_embed(JobUpdate(job=job)), view=None))
        self._done_with(job.id)
        return Receipt(ref.channel_id, (ref.message_id or 0,))


def _too_large(exc: discord.HTTPException) -> bool:
    return exc.status == 413 or exc.code == 40005
