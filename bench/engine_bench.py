"""Job engine: GPU idle gap, makespan over 4 backends vs the ideal, speed-up over a sequential
baseline (the seeds' submit-and-wait loop), and the cost of a 10,000-job queue.

Job durations vary through the template's ``steps`` with a fixed per-step delay in the fake, so
"total work" is measured by the fakes themselves (their execution records).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import sys
import tempfile
import time
import tracemalloc
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp

from bench.stats import rss_mb, summary
from bot.comfy import ComfyClient, Endpoint
from bot.jobmodel.states import JobState
from bot.jobs.engine import EngineLimits
from bot.jobs.planning import JobRequest
from bot.jobs.scheduler import FairScheduler, Waiting
from bot.templates import load_templates, render
from tests.fakes.comfyui.server import FakeComfyUI
from tests.integration.engine_harness import WORKFLOWS, build_harness

STEP_DELAY = 0.003


def _durations(count: int, seed: int = 11) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(4, 40) for _ in range(count)]


async def _wait_all(harness: Any, ids: list[str], patience: float) -> None:
    deadline = time.monotonic() + patience
    while True:
        states = [(await harness.engine.jobs.require(i)).state for i in ids]
        if all(s is JobState.DELIVERED for s in states):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"jobs not delivered: {sum(s is not JobState.DELIVERED for s in states)}")
        await asyncio.sleep(0.02)


async def engine_run(steps: list[int], backends: int, data_dir: Path) -> dict[str, Any]:
    """Run jobs with the given step counts through the engine over ``backends`` fakes."""
    async with AsyncExitStack() as stack:
        fakes = [
            await stack.enter_async_context(FakeComfyUI(step_delay=STEP_DELAY, previews=False))
            for _ in range(backends)
        ]
        harness = await build_harness(
            stack,
            data_dir,
            [f.base_url for f in fakes],
            limits=EngineLimits(max_queued_per_user=10_000, max_queued_total=10_000),
        )
        await harness.wait_healthy()
        started = time.monotonic()
        ids = []
        for n, count in enumerate(steps):
            job = await harness.engine.submit(
                JobRequest(
                    user_id=n % 20,
                    channel_id=1,
                    template="imagine",
                    values={"prompt": f"job {n}", "steps": count, "seed": n},
                )
            )
            ids.append(job.id)
        await _wait_all(harness, ids, patience=600)
        wall = time.monotonic() - started
        records = [r for f in fakes for r in f.executions if r.outcome == "success"]
        gaps = []
        for fake in fakes:
            runs = sorted(fake.executions, key=lambda r: r.started_at)
            gaps += [b.started_at - a.ended_at for a, b in itertools.pairwise(runs)]
        work = sum(r.ended_at - r.started_at for r in records)
        makespan = max(r.ended_at for r in records) - min(r.started_at for r in records)
        return {
            "wall_s": wall,
            "work_s": work,
            "makespan_s": makespan,
            "gaps": gaps,
            "executions": len(records),
        }


async def sequential_baseline(steps: list[int]) -> float:
    """The seeds' way: one backend, submit, wait for the result, then the next. Returns wall seconds."""
    templates = load_templates(WORKFLOWS)
    template = templates["imagine"]
    async with FakeComfyUI(step_delay=STEP_DELAY, previews=False) as fake, aiohttp.ClientSession() as session:
        client = ComfyClient(session, Endpoint(fake.base_url), timeout=30)
        client.start()
        await client.connection.wait_connected(10)
        started = time.monotonic()
        for n, count in enumerate(steps):
            rendered = render(
                template, {"prompt": f"job {n}", "steps": count, "seed": n}, rng=random.Random(n)
            )
            await client.run(rendered.graph, output_nodes=rendered.output_nodes).result()
        wall = time.monotonic() - started
        await client.close()
    return wall


async def queue_costs(count: int, data_dir: Path) -> dict[str, Any]:
    """10,000 queued jobs: memory growth and latency of enqueue, position, cancel and dequeue."""
    async with AsyncExitStack() as stack:
        # A backend that is never up: every job stays queued.
        harness = await build_harness(
            stack,
            data_dir,
            ["http://127.0.0.1:9"],
            limits=EngineLimits(max_queued_per_user=count, max_queued_total=count),
        )
        tracemalloc.start()
        before_rss, before_heap = rss_mb(), tracemalloc.get_traced_memory()[0]
        enqueue, ids = [], []
        for n in range(count):
            t = time.perf_counter()
            job = await harness.engine.submit(
                JobRequest(user_id=n % 200, channel_id=1, template="imagine", values={"prompt": f"job {n}"})
            )
            enqueue.append(time.perf_counter() - t)
            ids.append(job.id)
        heap_growth = tracemalloc.get_traced_memory()[0] - before_heap
        tracemalloc.stop()
        after_rss = rss_mb()
        rng = random.Random(3)
        position = []
        for job_id in rng.sample(ids, 500):
            t = time.perf_counter()
            harness.engine.position(job_id)
            position.append(time.perf_counter() - t)
        t = time.perf_counter()
        harness.engine.scheduler.positions()
        all_positions = time.perf_counter() - t
        cancel = []
        for job_id in rng.sample(ids, 200):
            t = time.perf_counter()
            await harness.engine.cancel(job_id)
            cancel.append(time.perf_counter() - t)
    scheduler = FairScheduler()
    for n in range(count):
        scheduler.add(Waiting(f"j{n}", (1, n % 200), "default", "imagine"))
    dequeue = []
    while True:
        t = time.perf_counter()
        item = scheduler.pop_next()
        dequeue.append(time.perf_counter() - t)
        if item is None:
            break
    return {
        "jobs": count,
        "rss_mb": {"before": before_rss, "after": after_rss},
        "python_heap_growth_mb": round(heap_growth / 2**20, 2),
        "enqueue_ms": summary(enqueue),
        "position_query_ms": summary(position),
        "all_positions_ms": round(all_positions * 1000, 2),
        "cancel_ms": summary(cancel),
        "dequeue_ms": summary(dequeue, digits=4),
    }


async def run(jobs: int = 200, queue: int = 10_000) -> dict[str, Any]:
    steps = _durations(jobs)
    with tempfile.TemporaryDirectory() as tmp:
        busy = await engine_run(_durations(60, seed=5), 1, Path(tmp) / "busy")
        four = await engine_run(steps, 4, Path(tmp) / "four")
        baseline_wall = await sequential_baseline(steps)
        costs = await queue_costs(queue, Path(tmp) / "queue")
    ideal = four["work_s"] / 4
    return {
        "idle_gap_ms": summary(busy["gaps"]),
        "makespan_ratio": round(four["makespan_s"] / ideal, 3),
        "makespan_s": round(four["makespan_s"], 3),
        "ideal_s": round(ideal, 3),
        "engine_wall_s_4_backends": round(four["wall_s"], 3),
        "sequential_wall_s_1_backend": round(baseline_wall, 3),
        "speedup_vs_sequential": round(baseline_wall / four["wall_s"], 2),
        "jobs": jobs,
        "queue": costs,
    }


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    print(json.dumps(asyncio.run(run(60 if quick else 200, 1000 if quick else 10_000)), indent=2))
