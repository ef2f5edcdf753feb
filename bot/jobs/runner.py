"""Run one dispatched job on its backend: upload inputs, render, submit, follow, keep the outputs.

The runner turns the outcome into a ``RunOutcome`` and leaves every state change to the engine, so
the rules about what happens next (retry elsewhere, fail, cancel) live in one place.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from PIL import Image

from bot.comfy import (
    CachedNodes,
    Completed,
    ConnectionLost,
    Finished,
    NodeExecuting,
    OverallProgress,
    PreviewImage,
    RunEvent,
    RunOutput,
    Started,
    StepProgress,
)
from bot.comfy.http import predicted_ref
from bot.errors import (
    BackendUnavailable,
    ComfyError,
    NothingToDeliver,
    OutputsLost,
    PromptLost,
    UnexpectedResponse,
)
from bot.jobmodel.model import Job, OutputRef
from bot.jobs.backends import Backend
from bot.jobs.planning import JobPlanner
from bot.media import OutputKind, extension_for
from bot.storage import Spool

log = logging.getLogger(__name__)

STOP_CHECKS = 12
"""How often ``stop`` re-sends the interrupt while the prompt is still queued or running (~3 s in all)."""

RETRYABLE = (BackendUnavailable, PromptLost, OutputsLost, UnexpectedResponse)


@dataclass(slots=True)
class Progress:
    """The live part of a JobUpdate, kept by the runner between events."""

    node: str | None = None
    step: int | None = None
    steps: int | None = None
    overall: float | None = None
    preview: bytes | None = field(default=None, repr=False)
    preview_mime: str | None = None


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How a run ended. Exactly one of ``outputs`` (success) or ``error`` is set.

    ``seconds`` is the whole attempt, uploads and waiting inside ComfyUI included.
    """

    outputs: tuple[OutputRef, ...] = ()
    error: ComfyError | None = None
    timed_out: bool = False
    seconds: float = 0.0

    @property
    def retryable(self) -> bool:
        return isinstance(self.error, RETRYABLE)


class JobRunner:
    """Executes jobs; one instance serves the whole engine."""

    def __init__(
        self,
        planner: JobPlanner,
        spool: Spool,
        *,
        max_runtime: float,
        reconnect_grace: float = 30.0,
        on_started: Callable[[Job], Awaitable[Job]],
        on_progress: Callable[[Job, Progress], None],
        on_finishing: Callable[[Job], None] = lambda job: None,
        on_completed: Callable[[Job, bool], None] = lambda job, success: None,
        submit_guard: Callable[[Job], AbstractAsyncContextManager[object]] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        probe_timeout: float = 5.0,
    ) -> None:
        """``on_started`` persists that ComfyUI began executing and returns the job as stored; it is
        awaited, so no progress about the job can be published before its RUNNING state.
        ``on_finishing(job)`` hears that the run can no longer be stopped: its last output node started
        (ComfyUI checks for an interrupt only between nodes and between steps) or it succeeded.
        ``on_completed(job, success)`` hears the server's verdict, before the outputs are collected.
        ``submit_guard(job)`` is entered around ``POST /prompt`` (the engine re-checks the job there)."""
        self._planner = planner
        self._spool = spool
        self._max_runtime = max_runtime
        self._grace = reconnect_grace
        self._on_started = on_started
        self._on_progress = on_progress
        self._on_finishing = on_finishing
        self._on_completed = on_completed
        self._submit_guard = submit_guard
        self._monotonic = monotonic
        self._probe_timeout = probe_timeout

    async def run(self, job: Job, backend: Backend, *, attach: bool = False) -> RunOutcome:
        """Run (or, after a restart, re-attach to) ``job`` on ``backend``; never raises ComfyError."""
        started = self._monotonic()
        try:
            outputs = await self._run(job, backend, attach)
        except TimeoutError:
            await self.stop(job, backend)
            return RunOutcome(timed_out=True, seconds=self._monotonic() - started)
        except ComfyError as exc:
            return RunOutcome(error=exc, seconds=self._monotonic() - started)
        return RunOutcome(outputs=outputs, seconds=self._monotonic() - started)

    async def _run(self, job: Job, backend: Backend, attach: bool) -> tuple[OutputRef, ...]:
        assert job.prompt_id is not None, "a dispatched job has its prompt_id persisted"
        client = backend.client
        uploaded: dict[str, str] = {}
        if not attach:
            for ref in job.inputs:
                data = await self._spool.read(ref.path)
                uploaded[ref.param] = (await client.http.upload_image(data, ref.filename)).ref
        else:
            # Names are content hashes, so re-attaching after a restart derives them without uploading.
            for ref in job.inputs:
                uploaded[ref.param] = predicted_ref(await self._spool.read(ref.path), ref.filename)
        plan = self._planner.plan(job.template, job.params, uploaded, job.template_version)
        if attach:
            run = client.attach(plan.graph, job.prompt_id, output_nodes=plan.output_nodes)
        else:
            run = client.run(
                plan.graph,
                prompt_id=job.prompt_id,
                output_nodes=plan.output_nodes,
                extra_data={"comfycord_job": job.id},
                submit_guard=None
                if self._submit_guard is None
                else functools.partial(self._submit_guard, job),
            )
        results: tuple[RunOutput, ...] = ()
        progress = Progress()
        outputs_to_start = set(plan.output_nodes)
        async with asyncio.timeout(None) as deadline:
            async for event in self._with_grace(aiter(run), backend):
                if isinstance(event, CachedNodes | NodeExecuting) and outputs_to_start:
                    outputs_to_start -= set(
                        event.nodes if isinstance(event, CachedNodes) else [event.node_id]
                    )
                    if not outputs_to_start and isinstance(event, NodeExecuting):
                        self._on_finishing(job)
                if isinstance(event, Started):
                    # The run-time limit counts from the moment ComfyUI starts the job, not from
                    # when it began to wait behind the prompt before it.
                    deadline.reschedule(asyncio.get_running_loop().time() + self._max_runtime)
                    job = await self._on_started(job)
                elif isinstance(event, Completed):
                    if event.success:
                        self._on_finishing(job)
                    self._on_completed(job, event.success)
                elif isinstance(event, Finished):
                    results = event.outputs
                elif self._track(event, progress):
                    self._on_progress(job, progress)
        return await self._store(job, results)

    async def _with_grace(self, events: AsyncIterator[RunEvent], backend: Backend) -> AsyncIterator[RunEvent]:
        """Pass events through. After a dropped socket, give the backend ``grace`` seconds to return,
        unless it does not answer over HTTP either: then it is gone, and waiting only delays the job."""
        waiting_since_drop = False
        while True:
            try:
                if waiting_since_drop:
                    async with asyncio.timeout(self._grace):
                        event = await anext(events)
                else:
                    event = await anext(events)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise BackendUnavailable(
                    backend.name, f"no reconnect within {self._grace:g}s", server=backend.display_name
                ) from None
            waiting_since_drop = isinstance(event, ConnectionLost)
            if waiting_since_drop:
                await self._check_alive(backend)
            yield event

    async def _check_alive(self, backend: Backend) -> None:
        """Raise BackendUnavailable at once when the server does not answer HTTP either."""
        try:
            async with asyncio.timeout(self._probe_timeout):
                await backend.client.http.system_stats()
        except (TimeoutError, BackendUnavailable) as exc:
            raise BackendUnavailable(
                backend.name, f"websocket dropped and HTTP failed too ({exc})", server=backend.display_name
            ) from None
        except ComfyError:
            pass  # it answers, if strangely: give it the grace period to reconnect

    @staticmethod
    def _track(event: RunEvent, progress: Progress) -> bool:
        if isinstance(event, NodeExecuting):
            progress.node, progress.step, progress.steps = event.class_type, None, None
        elif isinstance(event, StepProgress):
            progress.step, progress.steps = event.value, event.max
        elif isinstance(event, OverallProgress):
            progress.overall = event.fraction
        elif isinstance(event, PreviewImage):
            progress.preview, progress.preview_mime = event.data, event.mime
        else:
            return False
        return True

    async def _store(self, job: Job, results: tuple[RunOutput, ...]) -> tuple[OutputRef, ...]:
        """Write every result to the spool (``out/000.png``, ``out/001.mp4``, ``out/002.txt``...)."""
        if not results:
            raise NothingToDeliver(job.prompt_id or "?", "")
        refs: list[OutputRef] = []
        for index, result in enumerate(results):
            ext = extension_for(result.mime, result.kind)
            spooled = await self._spool.put_output(job.id, index, result.data, ext)
            width, height = _size(result.data) if result.kind in _PICTURES else (None, None)
            refs.append(
                OutputRef(
                    index,
                    spooled.path,
                    spooled.sha256,
                    result.mime,
                    width,
                    height,
                    result.node_id,
                    result.kind,
                )
            )
        return tuple(refs)

    async def stop(self, job: Job, backend: Backend) -> None:
        """Stop our own prompt (targeted by id, never global), whether it waits or runs, and make sure.

        An interrupt is lost when it lands between ComfyUI taking the prompt off its queue and starting
        it (execution clears the flag first), so the queue is looked at again until the prompt is gone.
        It may still finish if it is in its last node, which ComfyUI cannot interrupt.
        """
        if job.prompt_id is None:
            return
        http = backend.client.http
        try:
            for attempt in range(STOP_CHECKS):
                await http.delete_pending([job.prompt_id])
                await http.interrupt(job.prompt_id)
                if not (await http.get_queue()).contains(job.prompt_id):
                    return
                await asyncio.sleep(min(0.5, 0.01 * 2**attempt))
            log.warning(
                "job=%s prompt %s still on %s after %d stops",
                job.id,
                job.prompt_id,
                backend.name,
                STOP_CHECKS,
            )
        except ComfyError as exc:
            log.warning("job=%s could not interrupt prompt %s: %s", job.id, job.prompt_id, exc)


_PICTURES = (OutputKind.IMAGE, OutputKind.ANIMATION)


def _size(data: bytes) -> tuple[int | None, int | None]:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None, None


def user_reason(error: ComfyError | None, *, timed_out: bool = False, max_runtime: float = 0) -> str:
    """The failure reason stored on the job and shown to the member."""
    if timed_out:
        return f"The job took longer than the {max_runtime:g}-second limit and was stopped."
    if error is None:
        return "The job failed."
    if isinstance(error, RETRYABLE):
        return f"{error.user_message} It was tried several times."
    return error.user_message
