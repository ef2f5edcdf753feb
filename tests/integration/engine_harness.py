"""Wiring for engine tests: real SQLite, real client, fake ComfyUI backends, a recording sink."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bot.comfy import Backoff, ComfyClient, Endpoint, RetryPolicy
from bot.jobmodel.model import Job, OutputRef
from bot.jobmodel.states import JobState
from bot.jobs.backends import BackendPool
from bot.jobs.delivery import Receipt
from bot.jobs.engine import EngineLimits, JobEngine
from bot.jobs.planning import JobRequest
from bot.jobs.template_planner import TemplatePlanner
from bot.storage import Database, Spool
from bot.supervisor import RestartPolicy
from bot.templates import load_templates

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"


@dataclass
class RecordingSink:
    """Posts nothing; remembers every delivery. Idempotent per job like a real sink must be."""

    results: dict[str, list[OutputRef]] = field(default_factory=dict)
    notices: dict[str, Job] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    fail_next: int = 0

    async def deliver(self, job: Job, outputs: Sequence[OutputRef]) -> Receipt:
        self.calls.append(("result", job.id))
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("discord is down")
        self.results.setdefault(job.id, list(outputs))
        return Receipt(job.channel_id, (len(self.results),))

    async def notify_end(self, job: Job) -> Receipt:
        self.calls.append(("notice", job.id))
        self.notices.setdefault(job.id, job)
        return Receipt(job.channel_id, ())


@dataclass
class Harness:
    engine: JobEngine
    pool: BackendPool
    sink: RecordingSink
    db: Database

    async def submit(self, user: int = 1, template: str = "imagine", **values: object) -> Job:
        values.setdefault("prompt", f"a picture for user {user}")
        return await self.engine.submit(
            JobRequest(user_id=user, channel_id=10, guild_id=5, template=template, values=values)
        )

    async def wait_state(self, job_id: str, *states: JobState, timeout: float = 10.0) -> Job:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            job = await self.engine.jobs.require(job_id)
            if job.state in states:
                return job
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"job {job_id} stuck in {job.state}, wanted {states}")
            await asyncio.sleep(0.01)

    async def wait_healthy(self, count: int | None = None, timeout: float = 10.0) -> None:
        want = len(self.pool.backends) if count is None else count
        deadline = asyncio.get_running_loop().time() + timeout
        while sum(b.healthy and bool(b.capable) for b in self.pool.backends) < want:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"backends not healthy: {self.pool.snapshot()}")
            await asyncio.sleep(0.01)


async def no_sleep(_: float) -> None:
    await asyncio.sleep(0)


async def build_harness(
    stack: AsyncExitStack,
    data_dir: Path,
    urls: Sequence[str],
    *,
    limits: EngineLimits | None = None,
    capacity: int = 2,
    client_ids: Sequence[str] | None = None,
    before_start: Callable[[Database], object] | None = None,
    clock: Callable[[], float] = time.time,
    on_fatal: Callable[[str], None] | None = None,
    workflows: Path = WORKFLOWS,
    endpoints: Sequence[Endpoint] | None = None,
) -> Harness:
    """An engine on ``data_dir`` over ``urls`` (or configured ``endpoints``, with their auth and display
    names), started. ``before_start(db)`` runs once the database is open (e.g. to install DbFaults);
    restarts of crashed loops and failed deliveries wait milliseconds, not seconds."""
    session = await stack.enter_async_context(aiohttp.ClientSession())
    db = await stack.enter_async_context(await Database.open_in(data_dir, clock=clock))
    if before_start is not None:
        before_start(db)
    templates = load_templates(workflows)
    planner = TemplatePlanner(templates)
    clients = [
        ComfyClient(
            session,
            endpoint,
            client_id=client_ids[i] if client_ids else None,
            timeout=3.0,
            retry=RetryPolicy(attempts=2, backoff=Backoff(0.001, 0.002), sleep=no_sleep),
            backoff=Backoff(0.01, 0.05),
        )
        for i, endpoint in enumerate(endpoints or [Endpoint(url) for url in urls])
    ]
    pool = BackendPool(clients, capacity=capacity, capability_check=planner.capabilities, probe_interval=0.05)
    engine = JobEngine(
        db,
        pool,
        planner,
        Spool.in_data_dir(data_dir),
        limits=limits or EngineLimits(reconnect_grace=2.0),
        rng=random.Random(7),
        clock=clock,
        on_fatal=on_fatal,
        restart_policy=RestartPolicy(base=0.01, cap=0.05),
        delivery_pause=lambda failures: 0.01,
    )
    sink = RecordingSink()
    engine.set_sink(sink)
    await pool.start()
    stack.push_async_callback(pool.close)
    await engine.start()
    stack.push_async_callback(engine.close)
    return Harness(engine, pool, sink, db)
