"""The job engine: takes requests, queues them fairly, dispatches to backends, delivers once.

Every state change is written to the database before the action it announces (DISPATCHED with its
prompt_id before ``POST /prompt``, SUCCEEDED only once the images are in the spool, DELIVERED only after
the sink posted them), so a restart at any instant resumes from the database alone. Each decision is
one transaction: a submission checks the member's limits, stores the job and charges the quota
together; the end of a run stores its state and the GPU time it cost together; a cancellation writes
CANCELLED first and then stops whatever the stored row says is running.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from bot.errors import (
    BackendUnavailable,
    ComfyError,
    InvalidParameter,
    JobError,
    JobNotFound,
    LimitReached,
    NoCapableBackend,
    OutputsLost,
    PromptLost,
    QueueFull,
)
from bot.jobmodel.ids import normalize_job_id
from bot.jobmodel.model import InputRef, Job, new_job
from bot.jobmodel.states import (
    IN_FLIGHT_STATES,
    OPEN_STATES,
    TO_DELIVER_STATES,
    IllegalTransition,
    JobState,
)
from bot.jobs.backends import Backend, BackendPool
from bot.jobs.deliverer import Deliverer, retry_pause
from bot.jobs.delivery import ResultSink
from bot.jobs.eta import DurationModel
from bot.jobs.planning import JobPlanner, JobRequest
from bot.jobs.runner import JobRunner, Progress, RunOutcome, user_reason
from bot.jobs.scheduler import FairScheduler, Waiting
from bot.jobs.updates import JobUpdate, UpdateHub
from bot.moderation.limits import check_limits, utc_day
from bot.storage import (
    Database,
    DeliveryRepository,
    JobRepository,
    OutputRepository,
    QuotaRepository,
    Spool,
)
from bot.supervisor import RestartPolicy, Supervisor

log = logging.getLogger(__name__)

IN_FLIGHT = (JobState.DISPATCHED, JobState.RUNNING)
RECENT_CHANNELS_SECONDS = 900.0
VERDICT_WAIT = 3.0
"""Seconds a cancel of an executing prompt waits to learn whether the interrupt came in time."""


@dataclass(frozen=True, slots=True)
class EngineLimits:
    max_queued_per_user: int = 5
    max_queued_total: int = 500
    max_runtime: float = 900.0
    max_attempts: int = 3
    reconnect_grace: float = 30.0
    retention_seconds: float = 24 * 3600.0
    parallel_deliveries: int = 8
    max_blocked_wait: float = 3600.0
    """A queued job that no working backend can run ends after waiting this long."""


@dataclass(frozen=True, slots=True)
class _LiveRun:
    """A run this process drives: enough to interrupt it without reading the database."""

    backend: Backend
    prompt_id: str
    user_id: int
    verdict: asyncio.Future[bool]
    """Whether the server ran the prompt to success; False once the run ended any other way."""


class SubmissionWithdrawn(ComfyError):
    """The job stopped being ours to run (cancelled, moved) before its prompt was sent."""

    def __init__(self, job_id: str) -> None:
        super().__init__("The job was withdrawn before it was sent.", detail=f"job={job_id} withdrawn")


def retry_notice(error: ComfyError | None, server: str) -> str:
    """What the member reads while a job that failed on ``server`` (its display name) is tried again."""
    if isinstance(error, BackendUnavailable):
        return f"{server} stopped answering, so your job was moved and starts again."
    if isinstance(error, PromptLost):
        return f"{server} restarted and lost your job, so it starts again from the beginning."
    if isinstance(error, OutputsLost):
        return f"Some of your images from {server} were lost on the way, so the job runs again (same seed)."
    return f"Something went wrong on {server}, so your job is tried again."


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
        on_fatal: Callable[[str], None] | None = None,
        restart_policy: RestartPolicy | None = None,
        delivery_pause: Callable[[int], float] = retry_pause,
    ) -> None:
        """``on_fatal(reason)`` is called when a background loop of the engine keeps crashing (how it is
        restarted meanwhile: ``restart_policy``); ``delivery_pause(n)`` is the wait after the n-th failed
        delivery of a job in a row."""
        self.db = db
        self.jobs = JobRepository(db)
        self.outputs = OutputRepository(db)
        self.deliveries = DeliveryRepository(db)
        self.quotas = QuotaRepository(db)
        self.pool = pool
        self.planner = planner
        self.spool = spool
        self.limits = limits or EngineLimits()
        self.updates = UpdateHub()
        self.durations = DurationModel()
        self.scheduler = FairScheduler()
        self.supervisor = Supervisor(policy=restart_policy, on_fatal=on_fatal)
        self._rng = rng or random.Random()
        self._clock = clock
        self._runner = JobRunner(
            planner,
            spool,
            max_runtime=self.limits.max_runtime,
            reconnect_grace=self.limits.reconnect_grace,
            on_started=self._mark_running,
            on_progress=self._publish_progress,
            on_finishing=self._mark_finishing,
            on_completed=self._server_verdict,
            submit_guard=self._submit_guard,
        )
        self.deliverer = Deliverer(
            db,
            self.jobs,
            self.outputs,
            self.deliveries,
            self.updates,
            self.supervisor,
            parallel=self.limits.parallel_deliveries,
            pause=delivery_pause,
        )
        self._running: dict[str, asyncio.Task[None]] = {}
        self._started: set[str] = set()
        self._finishing: set[str] = set()
        self._cancelling: dict[str, asyncio.Event] = {}
        self._live: dict[str, _LiveRun] = {}
        self._submitted: set[str] = set()
        self._gates: dict[str, asyncio.Lock] = {}
        self._blocked_since: dict[str, float] = {}
        self._seq = itertools.count(1)
        self.recovered_channels: set[int] = set()
        """Channels the previous process was busy in (its jobs left over, or any job of the last minutes):
        their Discord rate-limit budgets may be spent, and Discord remembers across our restarts."""
        self._closing = False

    # --- lifecycle ----------------------------------------------------------------------------------

    def set_sink(self, sink: ResultSink) -> None:
        self.deliverer.sink = sink

    async def start(self) -> None:
        """Rebuild the queue from the database, re-attach in-flight jobs, then start dispatching."""
        await self._recover()
        self.supervisor.loop("dispatcher", self._dispatch_loop)
        self.supervisor.loop("delivery", self.deliverer.loop)
        self.supervisor.loop("spool-janitor", self._janitor_loop, critical=False)
        self.supervisor.loop("queue-expiry", self._expiry_loop, critical=False)

    async def close(self) -> None:
        """Stop taking work and let in-flight runs go; the database already holds their state."""
        self._closing = True
        runs = list(self._running.values())
        for task in runs:
            task.cancel()
        for task in runs:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.supervisor.close()

    def problems(self) -> list[str]:
        """Why the engine is not working (empty when it is): a loop that crashed and is down."""
        return self.supervisor.problems()

    # --- requests -------------------------------------------------------------------------------------

    async def submit(self, request: JobRequest) -> Job:
        """Validate, then in one transaction check every limit, store the job and charge its quota."""
        if request.request_id is not None:
            existing = await self.jobs.get_by_request(request.request_id)
            if existing is not None:
                return existing  # a retry after a crash: the job was stored (and charged) the first time
        if not self.planner.knows(request.template):
            raise InvalidParameter("template", f"there is no template named `{request.template}`")
        attached = {a.param for a in request.attachments}
        params = self.planner.validate(request.template, request.values, self._rng, attached)
        version = self.planner.version(request.template)  # no await since validate: the same version
        self._check_offered(request.template, params)
        self._check_runnable(request.template)
        job_id = await self.jobs.new_id()
        inputs = []
        try:
            for attachment in request.attachments:
                spooled = await self.spool.put_input(
                    job_id, f"{attachment.param}-{attachment.filename}", attachment.data
                )
                inputs.append(InputRef(attachment.param, spooled.path, spooled.sha256, attachment.filename))
            job = await self._admit(request, job_id, params, inputs, version)
        except BaseException:
            await self.spool.remove_job(job_id)
            raise
        if job.id != job_id:
            await self.spool.remove_job(job_id)  # the same request won a race with itself
            return job
        log.info(
            "job=%s submitted template=%s user=%s state=%s", job.id, job.template, job.user_id, job.state
        )
        if job.state is JobState.QUEUED:
            self._enqueue(job)
        self._publish(job)
        return job

    async def _admit(
        self,
        request: JobRequest,
        job_id: str,
        params: Mapping[str, Any],
        inputs: list[InputRef],
        version: str | None = None,
    ) -> Job:
        """The submission's one transaction: idempotency, limits, the job row and its quota charge."""
        async with self.db.transaction():
            if request.request_id is not None:
                existing = await self.jobs.get_by_request(request.request_id)
                if existing is not None:
                    return existing
            now = self._clock()
            if await self.jobs.count_waiting() >= self.limits.max_queued_total:
                raise QueueFull("The queue is full right now. Please try again in a few minutes.")
            mine = await self.jobs.count_waiting(user_id=request.user_id)
            if mine >= self.limits.max_queued_per_user:
                raise QueueFull(
                    f"You already have {mine} jobs waiting (the limit is {self.limits.max_queued_per_user}). "
                    "Wait for one to finish or cancel one with /cancel."
                )
            day = utc_day(now)
            if request.limits is not None:
                activity = await self.jobs.member_activity(request.guild_id, request.user_id)
                usage = await self.quotas.get_usage(request.guild_id, request.user_id, day)
                refusal = check_limits(
                    request.limits,
                    open_jobs=activity.open_jobs,
                    last_job_at=activity.last_job_at,
                    jobs_today=usage.jobs,
                    gpu_seconds_today=usage.gpu_seconds,
                    now=now,
                )
                if refusal is not None:
                    raise LimitReached(refusal.message, rule=refusal.rule, retry_after=refusal.retry_after)
            job = new_job(
                job_id=job_id,
                guild_id=request.guild_id,
                channel_id=request.channel_id,
                user_id=request.user_id,
                template=request.template,
                params=params,
                now=now,
                inputs=inputs,
                state=JobState.PENDING_REVIEW if request.needs_review else JobState.QUEUED,
                lane=request.lane,
                age_restricted=request.age_restricted,
                template_version=version,
            )
            job = await self.jobs.insert(job, request_id=request.request_id)
            await self.quotas.add_usage(request.guild_id, request.user_id, day, jobs=1)
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

    async def release(self, job_id: str) -> Job:
        """A moderator let results held by output screening through: deliver them, unscreened.

        Call it in the transaction that records the moderator's decision. The delivery is the usual
        one (retried until it lands, resumed after a restart); it reads the job once that commits.
        """
        job = await self.jobs.transition(job_id, JobState.HELD, JobState.RELEASED)
        self._publish(job)
        self.deliverer.request(job.id)
        return job

    async def withhold(self, job_id: str, reason: str) -> Job:
        """A moderator decided held results are not posted; the member reads ``reason``."""
        job = await self.jobs.transition(job_id, JobState.HELD, JobState.WITHHELD, failure_reason=reason)
        self._ended(job)
        return job

    async def cancel(self, job_id: str, *, by_user: int | None = None, reason: str | None = None) -> Job:
        """Cancel a job; ``by_user`` must own it (None: a moderator or the system).

        CANCELLED is written in a transaction that reads the job first, so the write is checked against
        the state it replaces; then the run is stopped by what that row says (the task that drives it,
        the prompt by its id). A prompt this process has sent is stopped before the write as well: ComfyUI
        looks for an interrupt only between nodes and steps, so every millisecond counts, and it cannot
        interrupt a prompt in its last node. The server's verdict decides: a prompt that ran to success
        anyway is delivered, and the member told the cancel came too late.
        """
        canonical = normalize_job_id(job_id) or job_id
        settled = self._cancelling.setdefault(canonical, asyncio.Event())
        stopped: set[str] = set()  # prompts already stopped (and asked about) by this cancel
        try:
            while True:
                live = self._sent(canonical, stopped)
                if live is not None and by_user in (None, live.user_id):
                    stopped.add(live.prompt_id)
                    if await self._stop_and_ask(canonical, live):
                        raise JobError(f"Job `{canonical}` had already finished; its result is on the way.")
                async with self.db.transaction():
                    job = await self.jobs.get(canonical)
                    if job is None or (by_user is not None and job.user_id != by_user):
                        raise JobNotFound(
                            "You have no job with that id.", detail=f"job={job_id} cancel by {by_user}"
                        )
                    if job.state not in OPEN_STATES:
                        raise JobError(f"Job `{job.id}` is already {job.state.value.replace('_', ' ')}.")
                    if job.id in self._finishing:
                        raise JobError(f"Job `{job.id}` is finishing; its result is on the way.")
                    if self._sent(job.id, stopped) is not None:
                        continue  # its prompt reached the server meanwhile: stop it and ask about it first
                    cancelled = await self.jobs.transition(
                        job.id, job.state, JobState.CANCELLED, failure_reason=reason or "Cancelled."
                    )
                    await self._charge_run(job, cancelled)
                break
        finally:
            settled.set()
            self._cancelling.pop(canonical, None)
        self.scheduler.remove(job.id)
        self._blocked_since.pop(job.id, None)
        if job.state in IN_FLIGHT_STATES:
            await self._stop_run(job)
        log.info("job=%s cancelled by=%s", job.id, by_user)
        self._ended(cancelled)
        return cancelled

    def _sent(self, job_id: str, stopped: set[str]) -> _LiveRun | None:
        """The run of ``job_id`` whose prompt this process has sent to a server, unless already stopped.

        A prompt still being sent needs no asking: the write comes first, and the stop after it waits
        for the send to land; a prompt that just arrived is nowhere near its last node."""
        live = self._live.get(job_id)
        if live is None or job_id not in self._submitted or live.prompt_id in stopped:
            return None
        return live

    async def _stop_and_ask(self, job_id: str, live: _LiveRun) -> bool:
        """Stop a prompt this process sent and learn whether it ran to success anyway."""
        http, prompt_id = live.backend.client.http, live.prompt_id
        try:
            await http.delete_pending([prompt_id])
            await http.interrupt(prompt_id)
            queue = await http.get_queue()
            if queue.is_running(prompt_id):
                # It stops at its next step or node, unless it is in its last node: hear how it ends.
                async with asyncio.timeout(VERDICT_WAIT):
                    return await asyncio.shield(live.verdict)
            if queue.contains(prompt_id):
                return False  # still pending (just sent): the stop after the write deletes it
            entry = await http.get_history(prompt_id)
        except TimeoutError:
            return False  # a slow step: the interrupt takes effect at the next one
        except ComfyError as exc:
            log.info("job=%s could not stop prompt %s before cancelling (%s)", job_id, prompt_id, exc)
            return False
        return entry is not None and entry.status == "success"

    async def _stop_run(self, job: Job) -> None:
        """Stop a run whose job no longer wants it: its task, and its prompt on the backend."""
        async with self._gate(job.id):
            # Holding the gate, no POST /prompt of this job is on the wire, and none can follow:
            # the runner re-reads the job under the same gate before sending.
            task = self._running.get(job.id)
            if task is not None:
                task.cancel()
        backend = self.pool.get(job.backend or "")
        if backend is not None:
            await self._runner.stop(job, backend)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if job.id not in self._running:
            self._gates.pop(job.id, None)

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

    def _check_runnable(self, template: str) -> None:
        """Refuse a template that no backend seen so far can run; one that is merely down may return."""
        known = [b for b in self.pool.backends if b.object_info is not None]
        if not known or any(b.can_run(template) for b in known):
            return
        reasons = sorted({r for b in known for r in b.problems.get(template, [])})
        log.warning("template %s refused: no backend can run it (%s)", template, "; ".join(reasons))
        detail = f" ({reasons[0]})" if reasons else ""
        raise NoCapableBackend(
            f"None of the image servers can run `/{template}` right now{detail}. "
            "Please tell the server owner; nothing was queued."
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
            except BaseException:
                self.scheduler.add(item, front=True)  # still QUEUED in the database: keep its place
                raise
            self._blocked_since.pop(job.id, None)
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
                if job_id in self._started:
                    continue
                job = await self.jobs.get(job_id)
                if job is None or job.state is not JobState.DISPATCHED or job.prompt_id is None:
                    continue
                if not any(self._runs_on(b, self._waiting(job)) for b in idle):
                    continue
                if await self._take_back(job, busy):
                    log.info(
                        "job=%s moved off %s, which was still busy, to an idle backend", job.id, busy.name
                    )
                    return True
        return False

    async def _take_back(self, job: Job, backend: Backend) -> bool:
        """Withdraw a dispatched job whose prompt has not started and queue it again in front.

        False (nothing changed) when the prompt started, or when the backend cannot confirm it is gone.
        """
        assert job.prompt_id is not None
        async with self._gate(job.id):
            if job.id in self._submitted:
                http = backend.client.http
                try:
                    await http.delete_pending([job.prompt_id])
                    if (await http.get_queue()).contains(job.prompt_id) or await http.get_history(
                        job.prompt_id
                    ):
                        return False
                except ComfyError:
                    return False
            if job.id in self._started:
                return False
            try:
                # A move is not a failed attempt: give the attempt back.
                again = await self.jobs.transition(
                    job.id, JobState.DISPATCHED, JobState.QUEUED, attempts=max(0, job.attempts - 1)
                )
            except IllegalTransition:
                return False
            task = self._running.get(job.id)
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._enqueue(again, front=True)
        self._publish(again)
        return True

    @asynccontextmanager
    async def _gate(self, job_id: str) -> AsyncIterator[None]:
        """Serialises sending a job's prompt with withdrawing it (cancel, move)."""
        lock = self._gates.setdefault(job_id, asyncio.Lock())
        async with lock:
            yield

    @asynccontextmanager
    async def _submit_guard(self, job: Job) -> AsyncIterator[None]:
        """Around ``POST /prompt``: send only if the stored job still waits for exactly this prompt."""
        async with self._gate(job.id):
            current = await self.jobs.get(job.id)
            if (
                current is None
                or current.state is not JobState.DISPATCHED
                or current.prompt_id != job.prompt_id
            ):
                raise SubmissionWithdrawn(job.id)
            try:
                yield
            finally:
                self._submitted.add(job.id)  # even a failed POST may have reached the server

    def _start_run(self, job: Job, backend: Backend, *, attach: bool = False) -> None:
        backend.in_flight.add(job.id)
        assert job.prompt_id is not None, "a dispatched job has its prompt_id persisted"
        verdict = asyncio.get_running_loop().create_future()
        self._live[job.id] = _LiveRun(backend, job.prompt_id, job.user_id, verdict)
        if attach:
            self._submitted.add(job.id)
        log.info("job=%s prompt_id=%s dispatched to %s", job.id, job.prompt_id, backend.name)
        self._publish(job)
        self._running[job.id] = self.supervisor.spawn(self._run(job, backend, attach), name=f"job-{job.id}")

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
            await self._runner.stop(job, backend)
        finally:
            backend.in_flight.discard(job.id)
            live = self._live.pop(job.id, None)
            if live is not None and not live.verdict.done():
                live.verdict.set_result(False)
            self._running.pop(job.id, None)
            self._started.discard(job.id)
            self._submitted.discard(job.id)
            self._gates.pop(job.id, None)
            self.pool.notify()
        cancelling = self._cancelling.get(job.id)
        if cancelling is not None:
            await cancelling.wait()  # the cancel decides first; the run was likely interrupted by it
        try:
            await self._settle(job, backend, outcome)
        finally:
            self._finishing.discard(job.id)

    async def _settle(self, job: Job, backend: Backend, outcome: RunOutcome) -> None:
        """Persist what a finished run means for the job, retrying until the database takes it.

        The run's slot is already free; until this is stored the job stays in flight in the database,
        which recovery would re-attach after a restart, so retrying here loses nothing.
        """
        failures = 0
        while True:
            try:
                await self._settle_once(job, backend, outcome)
                return
            except IllegalTransition:
                log.info("job=%s changed state while its run ended (cancelled?)", job.id)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                reference = secrets.token_hex(4)
                log.exception(
                    "job=%s could not record the end of its run (try %d) ref=%s", job.id, failures, reference
                )
                await asyncio.sleep(min(30.0, 0.05 * 2**failures))

    async def _settle_once(self, job: Job, backend: Backend, outcome: RunOutcome) -> None:
        if outcome.error is None and not outcome.timed_out and outcome.outputs:
            async with self.db.transaction():
                before = await self.jobs.require(job.id)
                await self.outputs.add_many(job.id, outcome.outputs)
                done = await self.jobs.transition(job.id, IN_FLIGHT, JobState.SUCCEEDED)
                await self._charge_run(before, done)
            self.durations.observe(job.template, backend.name, outcome.seconds)
            log.info("job=%s succeeded on %s in %.1fs", job.id, backend.name, outcome.seconds)
            self._publish(done)
            self.deliverer.request(done.id)
        elif outcome.retryable and job.attempts < self.limits.max_attempts:
            log.warning(
                "job=%s attempt %d on %s failed (%s); queued again",
                job.id,
                job.attempts,
                backend.name,
                outcome.error,
            )
            async with self.db.transaction():
                before = await self.jobs.require(job.id)
                again = await self.jobs.transition(
                    job.id,
                    IN_FLIGHT,
                    JobState.QUEUED,
                    notice=retry_notice(outcome.error, backend.display_name),
                )
                await self._charge_run(before, again)
            if isinstance(outcome.error, BackendUnavailable) and job.prompt_id is not None:
                backend.abandoned.add(job.prompt_id)  # stop it there if that server comes back
            self._enqueue(again, front=True)
            self._publish(again)
        else:
            reason = user_reason(
                outcome.error, timed_out=outcome.timed_out, max_runtime=self.limits.max_runtime
            )
            log.info("job=%s failed: %s", job.id, outcome.error or reason)
            async with self.db.transaction():
                before = await self.jobs.require(job.id)
                failed = await self.jobs.transition(job.id, IN_FLIGHT, JobState.FAILED, failure_reason=reason)
                await self._charge_run(before, failed)
            self._ended(failed)

    async def _charge_run(self, before: Job, after: Job) -> None:
        """Count the time an attempt executed (RUNNING in ``before`` until the move to ``after``) against
        the member's daily GPU quota. Called in the transaction that ends the attempt: charged once."""
        if before.state is JobState.RUNNING and before.started_at is not None:
            seconds = max(0.0, after.updated_at - before.started_at)
            day = utc_day(after.updated_at)
            await self.quotas.add_usage(before.guild_id, before.user_id, day, gpu_seconds=seconds)

    # --- progress -------------------------------------------------------------------------------------

    async def _mark_running(self, job: Job) -> Job:
        """ComfyUI began executing: store RUNNING before any progress about the job is published."""
        self._started.add(job.id)
        if job.state is JobState.RUNNING:
            return job  # re-attached after a restart
        try:
            running = await self.jobs.transition(job.id, JobState.DISPATCHED, JobState.RUNNING)
        except IllegalTransition:
            return job
        except Exception:
            # RUNNING is bookkeeping: the end of the run moves the job from DISPATCHED just as well.
            log.exception("job=%s could not store that it is running", job.id)
            return job
        self._publish(running)
        return running

    def _publish_progress(self, job: Job, progress: Progress) -> None:
        elapsed = None if job.started_at is None else self._clock() - job.started_at
        self.updates.publish(
            JobUpdate(
                job=job,
                seq=next(self._seq),
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
        update = JobUpdate(job=job, seq=next(self._seq), backend=job.backend)
        if job.state is JobState.QUEUED:
            place = self.position(job.id)
            if place is not None:
                update = JobUpdate(
                    job=job,
                    seq=update.seq,
                    position=place[0],
                    eta_seconds=place[1],
                    waiting_reason=self.pool.why_waiting(job.template),
                )
        self.updates.publish(update)

    def _ended(self, job: Job) -> None:
        """A job ended without results: publish it and make sure the member hears why."""
        self._publish(job)
        self.deliverer.request(job.id)

    def _mark_finishing(self, job: Job) -> None:
        self._finishing.add(job.id)  # from now on a cancel could only throw a finished result away

    def _server_verdict(self, job: Job, success: bool) -> None:
        live = self._live.get(job.id)
        if live is not None and not live.verdict.done():
            live.verdict.set_result(success)

    # --- jobs no backend can run -----------------------------------------------------------------------

    async def _expiry_loop(self) -> None:
        interval = min(30.0, max(0.05, self.limits.max_blocked_wait / 10))
        while True:
            await self.expire_blocked()
            await asyncio.sleep(interval)

    async def expire_blocked(self) -> list[str]:
        """End queued jobs that no working backend has been able to run for ``max_blocked_wait``."""
        now = self._clock()
        expired = []
        for item in list(self.scheduler.waiting()):
            if any(b.healthy and self._runs_on(b, item) for b in self.pool.backends):
                self._blocked_since.pop(item.job_id, None)
                continue
            since = self._blocked_since.setdefault(item.job_id, now)
            if now - since < self.limits.max_blocked_wait:
                continue
            why = self.pool.why_waiting(item.template) or "no image server could take it"
            minutes = max(1, round(self.limits.max_blocked_wait / 60))
            reason = (
                f"No image server could run this job for {minutes} minute(s), so it was stopped. "
                f"{why.split(';')[0]}. Please try again later."
            )
            try:
                failed = await self.jobs.transition(
                    item.job_id, JobState.QUEUED, JobState.FAILED, failure_reason=reason
                )
            except IllegalTransition:
                continue
            self.scheduler.remove(item.job_id)
            self._blocked_since.pop(item.job_id, None)
            log.info("job=%s ended: waited %.0fs with no backend able to run it", item.job_id, now - since)
            self._ended(failed)
            expired.append(item.job_id)
        return expired

    # --- retention -------------------------------------------------------------------------------------

    async def _janitor_loop(self) -> None:
        interval = min(600.0, max(1.0, self.limits.retention_seconds / 4))
        while True:
            await self.sweep_spool()
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
        succeeded = await self.jobs.list_by_state(*TO_DELIVER_STATES)
        for job in succeeded:
            self.deliverer.request(job.id)
        unnotified = await self.jobs.list_unnotified()
        for job in unnotified:
            self.deliverer.request(job.id)
        recent = await self.jobs.channels_since(self._clock() - RECENT_CHANNELS_SECONDS)
        self.recovered_channels = recent | {
            j.channel_id for j in (*queued, *in_flight, *succeeded, *unnotified)
        }
        log.info(
            "recovered: %d queued, %d in flight, %d to deliver, %d to notify",
            len(queued),
            len(in_flight),
            len(succeeded),
            len(unnotified),
        )
