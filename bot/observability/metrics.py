"""Prometheus metrics in a registry of their own (no global state, so tests can build many).

Three sources feed it: a collector that reads the queue and the backends at scrape time, an observer
task that watches the engine's JobUpdate stream for finished jobs, and counter methods called by the
trace on discord.py's HTTP session (see discord_http) and by moderation (``ModerationService``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Final, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from bot.jobmodel.states import JobState
from bot.jobs.updates import JobUpdate, Mailbox, UpdateHub

log = logging.getLogger(__name__)

PREFIX: Final = "comfycord"

WAIT_BUCKETS: Final = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
"""Seconds from submission to the start of the run: queueing plus ComfyUI's own queue."""

RUN_BUCKETS: Final = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0, 900.0)
"""Seconds a run takes on a backend (JOB_MAX_RUNTIME defaults to 900)."""

COUNTED_STATES: Final = frozenset(
    {JobState.DELIVERED, JobState.FAILED, JobState.CANCELLED, JobState.REJECTED}
)
"""The states a job ends in, as far as the jobs counter is concerned (SUCCEEDED becomes DELIVERED)."""

DEFAULT_LANES: Final = ("default",)
"""Lanes reported even while empty, so their queue-depth series do not vanish between jobs."""


# --- what the collector and the observer read: narrow views of the engine ------------------------------


class WaitingView(Protocol):
    """A waiting job as the scheduler holds it."""

    @property
    def lane(self) -> str: ...


class QueueView(Protocol):
    """The scheduler: what is waiting (``FairScheduler``)."""

    def waiting(self) -> Iterable[WaitingView]: ...


class BackendView(Protocol):
    """One backend's health and load (``Backend``)."""

    @property
    def name(self) -> str: ...

    @property
    def display_name(self) -> str: ...

    @property
    def healthy(self) -> bool: ...

    @property
    def in_flight(self) -> Collection[str]: ...

    @property
    def capacity(self) -> int: ...


class PoolView(Protocol):
    """The backends (``BackendPool``)."""

    @property
    def backends(self) -> Sequence[BackendView]: ...


class EngineView(Protocol):
    """What the metrics read of a ``JobEngine``."""

    @property
    def scheduler(self) -> QueueView: ...

    @property
    def pool(self) -> PoolView: ...

    @property
    def updates(self) -> UpdateHub: ...


# --- scrape-time state -------------------------------------------------------------------------------


class LiveStateCollector:
    """Reads queue depth per lane and each backend's health and load when Prometheus scrapes.

    Backends are labelled by address (``Backend.name``), like the logs: it is stable when an owner
    renames a backend, so no series splits, and /metrics is the operator's. ``backend_info`` maps each
    address to the display name members see, for dashboards that want the names.
    """

    def __init__(self, queue: QueueView, pool: PoolView) -> None:
        self._queue = queue
        self._pool = pool
        self._lanes: set[str] = set(DEFAULT_LANES)

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def _families(self) -> tuple[GaugeMetricFamily, ...]:
        return (
            GaugeMetricFamily(
                f"{PREFIX}_queue_depth", "Jobs waiting for a backend, per lane.", labels=["lane"]
            ),
            GaugeMetricFamily(
                f"{PREFIX}_backend_healthy",
                "1 while the backend's websocket is up and /system_stats answers, else 0.",
                labels=["backend"],
            ),
            GaugeMetricFamily(
                f"{PREFIX}_backend_in_flight", "Prompts the bot has inside the backend.", labels=["backend"]
            ),
            GaugeMetricFamily(
                f"{PREFIX}_backend_capacity",
                "Prompts the bot keeps inside the backend at most (COMFYUI_MAX_IN_FLIGHT).",
                labels=["backend"],
            ),
            GaugeMetricFamily(
                f"{PREFIX}_backend_info",
                "Always 1: the name members see for each backend (COMFYUI_NAMES, or GPU n).",
                labels=["backend", "display_name"],
            ),
        )

    def collect(self) -> Iterator[Metric]:
        depth, healthy, in_flight, capacity, info = self._families()
        counts: dict[str, int] = dict.fromkeys(self._lanes, 0)
        for item in self._queue.waiting():
            counts[item.lane] = counts.get(item.lane, 0) + 1
        # Lanes seen once keep reporting (as 0) rather than disappearing from the graphs.
        self._lanes.update(counts)
        for lane in sorted(counts):
            depth.add_metric([lane], counts[lane])
        for backend in self._pool.backends:
            healthy.add_metric([backend.name], 1.0 if backend.healthy else 0.0)
            in_flight.add_metric([backend.name], len(backend.in_flight))
            capacity.add_metric([backend.name], backend.capacity)
            info.add_metric([backend.name, backend.display_name], 1.0)
        yield from (depth, healthy, in_flight, capacity, info)


class _Recent:
    """The last ``size`` keys seen, so each job is recorded once without remembering every job forever."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._keys: OrderedDict[str, None] = OrderedDict()

    def first_time(self, key: str) -> bool:
        if key in self._keys:
            return False
        self._keys[key] = None
        if len(self._keys) > self._size:
            self._keys.popitem(last=False)
        return True


# --- the metrics -------------------------------------------------------------------------------------


class Metrics:
    """Every metric the bot exports, in its own ``CollectorRegistry``.

    Wire it in the composition root: ``discord_trace(metrics)`` as the client's ``http_trace``,
    ``metrics`` as moderation's counters, ``metrics.attach(engine)`` once the engine exists (inside the
    running loop), and ``await metrics.close()`` on shutdown.
    """

    def __init__(self, *, remember: int = 10_000) -> None:
        self.registry = CollectorRegistry()
        self._recorded = _Recent(remember)
        self._collector: LiveStateCollector | None = None
        self._updates: UpdateHub | None = None
        self._box: Mailbox | None = None
        self._task: asyncio.Task[None] | None = None

        r = self.registry
        self.wait_seconds = Histogram(
            f"{PREFIX}_job_wait_seconds",
            "Seconds from submission to the start of the run, for jobs that succeeded.",
            ["template", "backend"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.run_seconds = Histogram(
            f"{PREFIX}_job_run_seconds",
            "Seconds from the start of the run to its end, for jobs that succeeded.",
            ["template", "backend"],
            buckets=RUN_BUCKETS,
            registry=r,
        )
        self.jobs_finished = Counter(
            f"{PREFIX}_jobs_finished",
            "Jobs that reached a final state (delivered, failed, cancelled, rejected).",
            ["template", "state"],
            registry=r,
        )
        self.discord_rate_limits = Counter(
            f"{PREFIX}_discord_rate_limited",
            "Responses from Discord that were rate limits (429).",
            registry=r,
        )
        self.discord_requests = Counter(
            f"{PREFIX}_discord_requests",
            "Requests sent to Discord (each retry too), by kind of route: response, followup, send, edit, "
            "delete, commands, read, other.",
            ["kind"],
            registry=r,
        )
        self.filter_outcomes = Counter(
            f"{PREFIX}_filter_outcomes",
            "Moderation filter decisions on requests, by action.",
            ["action"],
            registry=r,
        )
        self.review_outcomes = Counter(
            f"{PREFIX}_review_outcomes",
            "Moderators' decisions on held requests (approve, reject, ban) and results (release, discard).",
            ["decision"],
            registry=r,
        )

    # --- wiring ---------------------------------------------------------------------------------------

    def track(self, queue: QueueView, pool: PoolView) -> None:
        """Report queue depth and backend state from these objects at every scrape."""
        if self._collector is not None:
            self.registry.unregister(self._collector)
        self._collector = LiveStateCollector(queue, pool)
        self.registry.register(self._collector)

    def observe(self, updates: UpdateHub) -> None:
        """Start the task that records finished jobs from ``updates`` (call inside the running loop)."""
        if self._task is not None:
            raise RuntimeError("Metrics is already observing an update stream")
        self._updates = updates
        self._box = updates.subscribe()
        self._task = asyncio.create_task(self._observe(self._box), name="metrics-observer")

    def attach(self, engine: EngineView) -> None:
        """``track`` the engine's scheduler and pool, and ``observe`` its updates."""
        self.track(engine.scheduler, engine.pool)
        self.observe(engine.updates)

    async def close(self) -> None:
        """Stop the observer task and unsubscribe; the registry stays readable."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._updates is not None and self._box is not None:
            self._updates.unsubscribe(self._box)
        self._updates = self._box = None

    async def _observe(self, box: Mailbox) -> None:
        while True:
            for update in await box.get():
                try:
                    self.record(update)
                except Exception:
                    log.exception("job=%s could not be recorded in the metrics", update.job.id)

    # --- jobs -----------------------------------------------------------------------------------------

    def record(self, update: JobUpdate) -> None:
        """Count a job that reached a final state, once; a success also feeds the time histograms."""
        job = update.job
        if job.state is JobState.SUCCEEDED:
            if not self._recorded.first_time(f"succeeded:{job.id}"):
                return
            backend = job.backend or update.backend or "unknown"
            # A run so short that RUNNING was never seen has no start: no honest split to record.
            if job.started_at is not None:
                self.wait_seconds.labels(job.template, backend).observe(
                    max(0.0, job.started_at - job.created_at)
                )
                if job.finished_at is not None:
                    self.run_seconds.labels(job.template, backend).observe(
                        max(0.0, job.finished_at - job.started_at)
                    )
        elif job.state in COUNTED_STATES and self._recorded.first_time(f"final:{job.id}"):
            self.jobs_finished.labels(job.template, job.state.value).inc()

    # --- counters for the Discord HTTP trace and moderation --------------------------------------------

    def discord_rate_limited(self) -> None:
        """Discord answered 429."""
        self.discord_rate_limits.inc()

    def discord_request(self, route_kind: str) -> None:
        """A request to Discord of this kind (see ``discord_http.route_kind``)."""
        self.discord_requests.labels(route_kind).inc()

    def filter_outcome(self, action: str) -> None:
        """The prompt filters decided ``action`` (``allow``, ``review`` or ``block``) on a request."""
        self.filter_outcomes.labels(action).inc()

    def review_outcome(self, decision: str) -> None:
        """A moderator decided ``decision`` on a held job: ``approve``, ``reject`` or ``ban`` for a
        request, ``release`` or ``discard`` for screened results."""
        self.review_outcomes.labels(decision).inc()

    # --- output ---------------------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """Everything in the Prometheus text format (what ``/metrics`` serves to a plain scraper)."""
        return generate_latest(self.registry)


if (
    TYPE_CHECKING
):  # the real engine must satisfy the narrow views (checked by mypy, costs nothing at run time)
    from bot.jobs.engine import JobEngine

    def _engine_is_an_engine_view(engine: JobEngine) -> EngineView:
        return engine
