"""The job engine: takes requests, queues them fairly, dispatches to backends, delivers once.

Every state change is written to the database before the action it announces (DISPATCHED with its
prompt_id before ``POST /prompt``, SUCCEEDED only once the images are in the spool, DELIVERED only after
the sink posted them), so a restart at any instant resumes from the database alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.errors import ComfyError, InvalidParameter, JobError, JobNotFound, QueueFull
from bot.jobs.backends import Backend, BackendPool
from bot.jobs.delivery import Receipt, ResultSink
from bot.jobs.eta import DurationModel
from bot.jobs.model import InputRef, Job, new_job
from bot.jobs.planning import JobPlanner, JobRequest
from bot.jobs.runner import JobRunner, Progress, RunOutcome, user_reason
from bot.jobs.scheduler import FairScheduler, Waiting
from bot.jobs.states import IN_FLIGHT_STATES, OPEN_STATES, IllegalTransition, JobState
from bot.jobs.updates import JobUpdate, UpdateHub
from bot.storage import Database, DeliveryKind, DeliveryRepository, JobRepository, OutputRepository, Spool

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EngineLimits:
    max_queued_per_user: int = 5
    max_queued_total: int = 500
    max_runtime: float = 900.0
    max_attempts: int = 3
    reconnect_grace: float = 30.0
    retention_seconds: float = 24 * 3600.0
    parallel_deliveries: int = 8


class JobEngine:
    """One per process. Drive it with ``submit``/``cancel``; watch it through ``updates``."""

    def __init__(
        self,
        db: Database,
        pool: BackendPool,
        planner: JobPlanner,
        spool: Spool,
        *,
        limits: EngineLimits | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.jobs = JobRepository(db)
        self.outputs = OutputRepository(db)
        self.deliveries = DeliveryRepository(db)
        self.pool = pool
        self.planner = planner
        self.spool = spool
        self.limits = limits or EngineLimits()
        self.updates = UpdateHub()
        self.durations = DurationModel()
        self.scheduler = FairScheduler()
        self._rng = rng or random.Random()
        self._clock = clock
        self._sink: ResultSink | None = None
        self._runner = JobRunner(
            planner,
            spool,
            max_runtime=self.limits.max_runtime,
            reconnect_grace=self.limits.reconnect_grace,
            on_started=self._mark_running,
            on_progress=self._publish_progress,
        )
        self._running: dict[str, asyncio.Task[None]] = {}
        self._started: set[str] = set()
        self._cancelling: set[str] = set()
        self._to_deliver: asyncio.Queue[str] = asyncio.Queue()
        self._delivering: set[str] = set()
        self._delivery_failures: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[object]] = set()
        self._closing = False

    # --- lifecycle ----------------------------------------------------------------------------------

    def set_sink(self, sink: ResultSink) -> None:
        self._sink = sink

    async def start(self) -> None:
        """Rebuild the queue from the database, re-attach in-flight jobs, then start dispatching."""
        await self._recover()
        self._tasks.append(asyncio.create_task(self._dispatch_loop(), name="dispatcher"))
        self._tasks.append(asyncio.create_task(self._delivery_loop(), name="delivery"))
        self._tasks.append(asyncio.create_task(self._janitor_loop(), name="spool-janitor"))

    async def close(self) -> None:
        """Stop taking work and let in-flight runs go; the database already holds their state."""
        self._closing = True
        tasks = [*self._tasks, *self._running.values(), *self._background]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    # --- requests -------------------------------------------------------------------------------------

    async def submit(self, request: JobRequest) -> Job:
        """Validate, check limits, persist and queue a job (or hold it for review)."""
        if request.request_id is not None:
            existing = await self.jobs.get_by_request(request.request_id)
            if existing is not None:
                return existing  # a retry after a crash: the job was stored the first time
        if not self.planner.knows(request.template):
            raise InvalidParameter("template", f"there is no template named `{request.template}`")
        attached = {a.param for a in request.attachments}
        params = self.planner.validate(request.template, request.values, self._rng, attached)
        self._check_offered(request.template, params)
        mine = await self.jobs.count_waiting(user_id=request.user_id)
        if mine >= self.limits.max_queued_per_user:
            raise QueueFull(
                f"You already have {mine} jobs waiting (the limit is {self.limits.max_queued_per_user}). "
                "Wait for one to finish or cancel one with /cancel."
            )
        if await self.jobs.count_waiting() >= self.limits.max_queued_total:
            raise QueueFull("The queue is full right now. Please try again in a few minutes.")
        job_id = await self.jobs.new_id()
        inputs = []
        for attachment in request.attachments:
            spooled = await self.spool.put_input(
                job_id, f"{attachment.param}-{attachment.filename}", attachment.data
            )
            inputs.append(InputRef(attachment.param, spooled.path, spooled.sha256, attachment.filename))
        job = new_job(
            job_id=job_id,
            guild_id=request.guild_id,
            channel_id=request.channel_id,
            user_id=request.user_id,
            template=request.template,
            params=params,
            now=self._clock(),
            inputs=inputs,
            state=JobState.PENDING_REVIEW if request.needs_review else JobState.QUEUED,
            lane=request.lane,
        )
        job = await self.jobs.insert(job, request_id=request.request_id)
        log.info(
            "job=%s submitted template=%s user=%s state=%s", job.id, job.template, job.user_id, job.state
        )
        if job.state is JobState.QUEUED:
            self._enqueue(job)
        self._publish(job)
        return job

    async def approve(self, job_id: str) -> Job:
        job = await self.jobs.transition(job_id, JobState.PENDING_REVIEW, JobState.QUEUED)
        self._enqueue(job)
        self._publish(job)
        return job

    async def reject(self, job_id: str, reason: str) -> Job:
        job = await self.jobs.transition(
            job_id, JobState.PENDING_REVIEW, JobState.REJECTED, failure_reason=reason
        )
        self._ended(job)
        return job

    async def cancel(self, job_id: str, *, by_user: int | None = None, reason: str | None = None) -> Job:
        """Cancel a job; ``by_user`` must own it (None: a moderator or the system)."""
        job = await self.jobs.get(job_id)
        if job is None or (by_user is not None and job.user_id != by_user):
            raise JobNotFound("You have no job with that id.", detail=f"job={job_id} cancel by {by_user}")
        if job.state not in OPEN_STATES:
            raise JobError(f"Job `{job.id}` is already {job.state.value.replace('_', ' ')}.")
        self._cancelling.add(job.id)
        try:
            self.scheduler.remove(job.id)
            task = self._running.get(job.id)
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if job.state in IN_FLIGHT_STATES and job.backend is not None:
                backend = self.pool.get(job.backend)
                if backend is not None:
                    await self._runner.stop(job, backend)
            job = await self.jobs.transition(
                job.id, OPEN_STATES, JobState.CANCELLED, failure_reason=reason or "Cancelled."
            )
        finally:
            self._cancelling.discard(job.id)
        log.info("job=%s cancelled by=%s", job.id, by_user)
        self._ended(job)
        return job

    # --- questions ------------------------------------------------------------------------------------

    def position(self, job_id: str) -> tuple[int, float] | None:
        """(0-based position, ETA seconds) for a waiting job; None if it is not waiting."""
        item = self.scheduler.get(job_id)
        position = self.scheduler.position(job_id)
        if item is None or position is None:
            return None
        return position, self.durations.eta(position, item.template, self.pool.capable_slots(item.template))

    # --- the queue and the dispatcher -------------------------------------------------------------------

    def _waiting(self, job: Job) -> Waiting:
        needs = self.planner.backend_needs(job.template, job.params)
        return Waiting(job.id, (job.guild_id, job.user_id), job.lane, job.template, needs)

    def _enqueue(self, job: Job, *, front: bool = False) -> None:
        self.scheduler.add(self._waiting(job), front=front)
        self.pool.notify()

    def _check_offered(self, template: str, params: Mapping[str, Any]) -> None:
        """Refuse a value (a checkpoint, a sampler) that no known backend offers, naming the choices."""
        infos = [b.object_info for b in self.pool.backends if b.object_info is not None]
        if not infos:
            return  # no backend has been seen yet: nothing to compare with
        for param, value in self.planner.backend_needs(template, params):
            offered = list(
                dict.fromkeys(o for info in infos for o in self.planner.offered(template, param, info))
            )
            if value not in offered:
                shown = ", ".join(offered[:10]) + (", ..." if len(offered) > 10 else "")
                raise InvalidParameter(
                    param, f"no image server offers {value!r} (available: {shown or 'none'})"
                )

    def _runs_on(self, backend: Backend, item: Waiting) -> bool:
        """Whether ``backend`` can take ``item``: the template, and every backend-provided value."""
        if not backend.can_run(item.template):
            return False
        info = backend.object_info
        return info is not None and all(
            value in self.planner.offered(item.template, param, info) for param, value in item.needs
        )

    async def _dispatch_loop(self) -> None:
        while not self._closing:
            if not await self._dispatch_one() and not await self._rebalance():
                await self.pool.wait_changed()

    async def _dispatch_one(self) -> bool:
        """Start the fairest job on the least-loaded backend that can run it; False if nothing could."""
        for backend in sorted(
            (b for b in self.pool.backends if b.healthy and b.free_slots),
            key=lambda b: len(b.in_flight) / b.capacity,
        ):
            item = self.scheduler.pop_next(lambda w, b=backend: self._runs_on(b, w))  # type: ignore[misc]
            if item is None:
                continue
            try:
                job = await self.jobs.transition(
                    item.job_id,
                    JobState.QUEUED,
                    JobState.DISPATCHED,
                    backend=backend.name,
                    prompt_id=str(uuid.uuid4()),
                )
            except (IllegalTransition, JobNotFound):
                continue  # cancelled meanwhile
            self._start_run(job, backend)
            return True
        return False

    async def _rebalance(self) -> bool:
        """At the tail of the queue, move a job that only waits inside a busy backend to an idle one.

        Keeping two prompts per backend hides the gap between jobs, but when the queue runs dry it
        can leave one backend idle while another still holds a job it has not started. That job is
        deleted from the busy ComfyUI's queue (by prompt_id), checked to be really gone, and queued
        again in front, so the idle backend takes it.
        """
        if len(self.scheduler):
            return False
        idle = [b for b in self.pool.backends if b.healthy and not b.in_flight]
        if not idle:
            return False
        for busy in self.pool.backends:
            if len(busy.in_flight) < 2:
                continue
            for job_id in list(busy.in_flight):
                if job_id in self._started or job_id in self._cancelling:
                    continue
                job = await self.jobs.get(job_id)
                if job is None or job.state is not JobState.DISPATCHED or job.prompt_id is None:
                    continue
                if not any(self._runs_on(b, self._waiting(job)) for b in idle):
                    continue
                if await self._take_back(job, busy):
                    # A move is not a failed attempt: give the attempt back.
                    again = await self.jobs.transition(
                        job.id, JobState.DISPATCHED, JobState.QUEUED, attempts=max(0, job.attempts - 1)
                    )
                    log.info(
                        "job=%s moved off %s, which was still busy, to an idle backend", job.id, busy.name
                    )
                    self._enqueue(again, front=True)
                    return True
        return False

    async def _take_back(self, job: Job, backend: Backend) -> bool:
        """Delete a not-yet-started prompt from ``backend`` and stop following it; False if it started."""
        assert job.prompt_id is not None
        http = backend.client.http
        try:
            await http.delete_pending([job.prompt_id])
            if (await http.get_queue()).contains(job.prompt_id) or await http.get_history(job.prompt_id):
                return False
        except ComfyError:
            return False
        if job.id in self._started:
            return False
        task = self._running.get(job.id)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return True

    def _start_run(self, job: Job, backend: Backend, *, attach: bool = False) -> None:
        backend.in_flight.add(job.id)
        log.info("job=%s prompt_id=%s dispatched to %s", job.id, job.prompt_id, backend.name)
        self._publish(job)
        self._running[job.id] = asyncio.create_task(self._run(job, backend, attach), name=f"job-{job.id}")

    async def _run(self, job: Job, backend: Backend, attach: bool) -> None:
        try:
            outcome = await self._runner.run(job, backend, attach=attach)
        except asyncio.CancelledError:
            raise
        except Exception:
            reference = secrets.token_hex(4)
            log.exception("job=%s runner crashed ref=%s", job.id, reference)
            outcome = RunOutcome(
                error=ComfyError(
                    f"Something went wrong on my side (reference `{reference}`).",
                    detail=f"runner crash ref={reference}",
                )
            )
        finally:
            backend.in_flight.discard(job.id)
            self._running.pop(job.id, None)
            self._started.discard(job.id)
            self.pool.notify()
        await self._settle(job, backend, outcome)

    async def _settle(self, job: Job, backend: Backend, outcome: RunOutcome) -> None:
        """Decide what a finished run means for the job, and persist it."""
        in_flight = (JobState.DISPATCHED, JobState.RUNNING)
        try:
            if outcome.error is None and not outcome.timed_out and outcome.outputs:
                await self.outputs.add_many(job.id, outcome.outputs)
                done = await self.jobs.transition(job.id, in_flight, JobState.SUCCEEDED)
                self.durations.observe(job.template, backend.name, outcome.seconds)
                log.info("job=%s succeeded on %s in %.1fs", job.id, backend.name, outcome.seconds)
                self._publish(done)
                self._to_deliver.put_nowait(done.id)
            elif outcome.retryable and job.attempts < self.limits.max_attempts:
                log.warning(
                    "job=%s attempt %d on %s failed (%s); queued again",
                    job.id,
                    job.attempts,
                    backend.name,
                    outcome.error,
                )
                again = await self.jobs.transition(job.id, in_flight, JobState.QUEUED)
                self._enqueue(again, front=True)
                self._publish(again)
            else:
                reason = user_reason(
                    outcome.error, timed_out=outcome.timed_out, max_runtime=self.limits.max_runtime
                )
                log.info("job=%s failed: %s", job.id, outcome.error or reason)
                failed = await self.jobs.transition(job.id, in_flight, JobState.FAILED, failure_reason=reason)
                self._ended(failed)
        except IllegalTransition:
            log.info("job=%s changed state while its run ended (cancelled?)", job.id)

    # --- progress -------------------------------------------------------------------------------------

    def _mark_running(self, job: Job) -> None:
        self._started.add(job.id)
        task = asyncio.create_task(self._persist_running(job))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _persist_running(self, job: Job) -> None:
        try:
            running = await self.jobs.transition(job.id, JobState.DISPATCHED, JobState.RUNNING)
        except IllegalTransition:
            return
        self._publish(running)

    def _publish_progress(self, job: Job, progress: Progress) -> None:
        elapsed = None if job.started_at is None else self._clock() - job.started_at
        self.updates.publish(
            JobUpdate(
                job=job,
                backend=job.backend,
                node=progress.node,
                step=progress.step,
                steps=progress.steps,
                overall=progress.overall,
                elapsed=elapsed,
                preview=progress.preview,
                preview_mime=progress.preview_mime,
            )
        )

    def _publish(self, job: Job) -> None:
        update = JobUpdate(job=job, backend=job.backend)
        if job.state is JobState.QUEUED:
            place = self.position(job.id)
            if place is not None:
                update = JobUpdate(
                    job=job,
                    position=place[0],
                    eta_seconds=place[1],
                    waiting_reason=self.pool.why_waiting(job.template),
                )
        self.updates.publish(update)

    def _ended(self, job: Job) -> None:
        """A job ended without results: publish it and make sure the member hears why."""
        self._publish(job)
        self._to_deliver.put_nowait(job.id)

    # --- delivery -------------------------------------------------------------------------------------

    async def _delivery_loop(self) -> None:
        """Deliver several jobs at once (Discord's limits are per channel), each job by one task only."""
        slots = asyncio.Semaphore(self.limits.parallel_deliveries)
        while True:
            job_id = await self._to_deliver.get()
            if job_id in self._delivering:
                continue  # the delivery under way reads the latest state when it runs
            self._delivering.add(job_id)
            await slots.acquire()
            task = asyncio.create_task(self._deliver_one(job_id, slots), name=f"deliver-{job_id}")
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _deliver_one(self, job_id: str, slots: asyncio.Semaphore) -> None:
        try:
            await self._deliver(job_id)
            self._delivery_failures.pop(job_id, None)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The job stays SUCCEEDED (or un-notified) in the database; it is retried on restart
            # and after a short pause here.
            failures = self._delivery_failures.get(job_id, 0) + 1
            self._delivery_failures[job_id] = failures
            # Back off (5 s, 10 s, ... up to 10 min): a lost permission or a long Discord outage should
            # not be hammered, and the results wait safely in the spool until it can be posted.
            delay = min(600.0, 5.0 * 2 ** (failures - 1))
            log.exception("job=%s delivery failed (%d time(s)); next try in %.0fs", job_id, failures, delay)
            self._retry_later(job_id, delay)
        finally:
            self._delivering.discard(job_id)
            slots.release()

    def _retry_later(self, job_id: str, delay: float) -> None:
        async def again() -> None:
            await asyncio.sleep(delay)
            self._to_deliver.put_nowait(job_id)

        task = asyncio.create_task(again())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _deliver(self, job_id: str) -> None:
        if self._sink is None:
            return
        job = await self.jobs.require(job_id)
        if job.state is JobState.SUCCEEDED:
            receipt = await self._sink.deliver(job, await self.outputs.list_for_job(job.id))
            await self._record(job, DeliveryKind.RESULT, receipt)
            delivered = await self.jobs.transition(job.id, JobState.SUCCEEDED, JobState.DELIVERED)
            log.info("job=%s delivered", job.id)
            self.updates.publish(JobUpdate(job=delivered))
        elif job.ends_with_notice and not await self.deliveries.was_delivered(job.id, DeliveryKind.STATUS):
            receipt = await self._sink.notify_end(job)
            await self._record(job, DeliveryKind.STATUS, receipt)

    async def _record(self, job: Job, kind: DeliveryKind, receipt: Receipt) -> None:
        await self.deliveries.record_delivery(
            job.id, kind, channel_id=receipt.channel_id, message_ids=list(receipt.message_ids)
        )

    # --- retention -------------------------------------------------------------------------------------

    async def _janitor_loop(self) -> None:
        interval = min(600.0, max(1.0, self.limits.retention_seconds / 4))
        while True:
            try:
                await self.sweep_spool()
            except Exception:
                log.exception("spool clean-up failed")
            await asyncio.sleep(interval)

    async def sweep_spool(self) -> list[str]:
        """Remove spooled inputs and outputs of jobs that ended longer ago than the retention time."""
        cutoff = self._clock() - self.limits.retention_seconds
        removed = await self.spool.cleanup(cutoff, await self.jobs.ended_before(cutoff))
        if removed:
            log.info("spool: removed the files of %d ended job(s)", len(removed))
        return removed

    # --- restart recovery --------------------------------------------------------------------------------

    async def _recover(self) -> None:
        queued = await self.jobs.list_by_state(JobState.QUEUED)
        for job in queued:
            self.scheduler.add(self._waiting(job))
        in_flight = await self.jobs.list_by_state(*IN_FLIGHT_STATES)
        for job in in_flight:
            backend = self.pool.get(job.backend or "")
            if backend is None or job.prompt_id is None:
                again = await self.jobs.transition(job.id, IN_FLIGHT_STATES, JobState.QUEUED)
                self._enqueue(again, front=True)
            else:
                self._start_run(job, backend, attach=True)
        succeeded = await self.jobs.list_by_state(JobState.SUCCEEDED)
        for job in succeeded:
            self._to_deliver.put_nowait(job.id)
        unnotified = await self.jobs.list_unnotified()
        for job in unnotified:
            self._to_deliver.put_nowait(job.id)
        log.info(
            "recovered: %d queued, %d in flight, %d to deliver, %d to notify",
            len(queued),
            len(in_flight),
            len(succeeded),
            len(unnotified),
        )
