"""Job progress and results into Discord: throttled status edits, then the final images.

The publisher reads the engine's update stream (a mailbox that keeps only the latest progress per
job, so Discord can never slow the engine) and hands edits to the throttle. It is also the engine's
ResultSink: delivery edits the status message into the result, which is naturally idempotent (the
same edit twice leaves one message), with overflow images in follow-up messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from bot.discord_ui.components import result_view, waiting_view
from bot.discord_ui.render import result_embed, status_embed
from bot.discord_ui.status import Payload, StatusMessages
from bot.discord_ui.throttle import EditThrottle
from bot.imaging import fit_output
from bot.jobs.delivery import Receipt
from bot.jobs.engine import JobEngine
from bot.jobs.model import Job, OutputRef
from bot.jobs.states import JobState
from bot.jobs.updates import JobUpdate

log = logging.getLogger(__name__)

FILES_PER_MESSAGE = 10
REQUEST_LIMIT = 24 * 1024 * 1024  # Discord's 25 MiB per request, with room for the JSON part
PROGRESS_STATES = (JobState.PENDING_REVIEW, JobState.QUEUED, JobState.DISPATCHED, JobState.RUNNING)


class Publisher:
    """Keeps status messages current and delivers results; owns its reader task."""

    def __init__(
        self,
        engine: JobEngine,
        messages: StatusMessages,
        throttle: EditThrottle,
        *,
        actions_for: Callable[[str], list[str]],
        file_limit: Callable[[Job], int],
        previews: bool = True,
    ) -> None:
        self._engine = engine
        self._messages = messages
        self._throttle = throttle
        self._actions_for = actions_for
        self._file_limit = file_limit
        self._previews = previews
        self._box = engine.updates.subscribe()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="status-publisher")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._engine.updates.unsubscribe(self._box)

    async def _run(self) -> None:
        while True:
            for update in await self._box.get():
                if update.job.state in PROGRESS_STATES:
                    self._schedule(update)

    def _schedule(self, update: JobUpdate) -> None:
        job = update.job
        if not self._messages.known(job.id) and job.status_message is None:
            return  # the command handler posts the first rendering itself
        self._throttle.submit(job.channel_id, job.id, lambda: self._show_progress(update))

    async def _show_progress(self, update: JobUpdate) -> None:
        current = await self._engine.jobs.get(update.job.id)
        if current is None or current.state not in PROGRESS_STATES:
            return  # it moved on while this edit waited: delivery owns the message now
        preview = update.preview if self._previews else None
        files = (
            [("preview.jpg", preview)] if preview is not None and update.preview_mime == "image/jpeg" else []
        )
        payload = Payload(
            embed=status_embed(update, previews=bool(files)), files=files, view=waiting_view(current.id)
        )
        await self._messages.show(current, payload)

    # --- the ResultSink side --------------------------------------------------------------------------

    async def deliver(self, job: Job, outputs: Sequence[OutputRef]) -> Receipt:
        """Turn the status message into the result; more than ten images go to follow-ups."""
        await self._messages.wait_ready(job)
        limit = self._file_limit(job)
        files: list[tuple[str, bytes]] = []
        notes: list[str] = []
        for output in outputs:
            data = await asyncio.to_thread(output.path.read_bytes)
            name = f"{job.template}_{job.id}_{output.index + 1}{output.path.suffix}"
            fitted = await asyncio.to_thread(fit_output, data, name, limit)
            if fitted.note:
                notes.append(fitted.note)
            files.append((fitted.filename, fitted.data))
        chunks = _chunks(files)
        embed = result_embed(job, notes=notes, images=len(files))
        view = result_view(job.id, self._actions_for(job.template))
        ref = await self._messages.show(
            job, Payload(embed=embed, files=chunks[0] if chunks else [], view=view)
        )
        message_ids = [ref.message_id or 0]
        for number, chunk in enumerate(chunks[1:], start=2):
            extra = await self._messages.post_plain(
                ref.channel_id, f"`{job.id}` images, part {number}", chunk
            )
            message_ids.append(extra)
        self._messages.forget(job.id)
        self._throttle.forget(job.id)
        return Receipt(ref.channel_id, tuple(message_ids))

    async def notify_end(self, job: Job) -> Receipt:
        """A job ended without results: show why on its status message."""
        await self._messages.wait_ready(job, timeout=2.0)
        # A progress edit still waiting in the throttle re-reads the job and sees it has ended.
        ref = await self._messages.show(job, Payload(embed=status_embed(JobUpdate(job=job)), view=None))
        self._messages.forget(job.id)
        self._throttle.forget(job.id)
        return Receipt(ref.channel_id, (ref.message_id or 0,))


def _chunks(files: list[tuple[str, bytes]]) -> list[list[tuple[str, bytes]]]:
    """Split into messages of at most ten files and under the per-request size limit."""
    chunks: list[list[tuple[str, bytes]]] = []
    current: list[tuple[str, bytes]] = []
    size = 0
    for name, data in files:
        if current and (len(current) >= FILES_PER_MESSAGE or size + len(data) > REQUEST_LIMIT):
            chunks.append(current)
            current, size = [], 0
        current.append((name, data))
        size += len(data)
    if current:
        chunks.append(current)
    return chunks
