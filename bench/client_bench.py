"""ComfyUI client: 1,000 prompts through ONE backend connection against the fake, zero-time execution.

Reports the client's own overhead per job (wall time of a run minus the time the fake spent executing
it), messages parsed per second, and how many sockets the backend saw (the seeds' examples open one
per job; we keep one per backend).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import aiohttp

from bench.stats import summary
from bot.comfy import ComfyClient, Endpoint
from bot.comfy.protocol import parse_text
from tests.fakes.comfyui.server import FakeComfyUI


def _graph(n: int) -> dict[str, object]:
    # A small graph whose output is never cached (SaveImageWebsocket), like a real job.
    return {
        "1": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "2": {
            "class_type": "SlowSteps",
            "inputs": {"samples": ["1", 0], "steps": 3, "delay": 0.0, "seed": n, "send_previews": False},
        },
        "3": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["2", 1]}},
    }


async def run(jobs: int = 1000, concurrency: int = 8) -> dict[str, object]:
    async with FakeComfyUI(previews=False) as fake, aiohttp.ClientSession() as session:
        client = ComfyClient(session, Endpoint(fake.base_url), timeout=10)
        client.start()
        await client.connection.wait_connected(5)
        max_sockets = 0
        overheads: list[float] = []
        texts = 0

        async def one(n: int) -> None:
            nonlocal max_sockets, texts
            started = time.perf_counter()
            run_ = client.run(_graph(n))
            async for _ in run_:
                texts += 1
            wall = time.perf_counter() - started
            record = next(e for e in reversed(fake.executions) if e.prompt_id == run_.prompt_id)
            overheads.append(max(0.0, wall - (record.ended_at - record.started_at)))
            max_sockets = max(max_sockets, len(fake.hub.open_sockets))

        # Sequential pass: per-job overhead without queueing inside ComfyUI.
        t0 = time.perf_counter()
        for n in range(jobs):
            await one(n)
        sequential_s = time.perf_counter() - t0
        sequential_overheads = list(overheads)

        # Concurrent pass: many prompts multiplexed over the same socket.
        overheads.clear()
        semaphore = asyncio.Semaphore(concurrency)

        async def limited(n: int) -> None:
            async with semaphore:
                await one(jobs + n)

        t1 = time.perf_counter()
        await asyncio.gather(*(limited(n) for n in range(jobs)))
        concurrent_s = time.perf_counter() - t1
        connects = client.connection.connects
        await client.close()

    raw = list(
        (Path(__file__).parents[1] / "tests/data/comfyui/07_progress_previews.jsonl").read_text().splitlines()
    )
    messages = [json.loads(line)["raw"] for line in raw if '"kind": "ws_text"' in line]
    t2 = time.perf_counter()
    repeats = 200
    for _ in range(repeats):
        for message in messages:
            parse_text(message)
    parse_rate = repeats * len(messages) / (time.perf_counter() - t2)
    return {
        "jobs": jobs,
        "client_overhead_ms": summary(sequential_overheads),
        "latency_with_8_in_flight_ms": summary(overheads),
        "jobs_per_second_sequential": round(jobs / sequential_s, 1),
        "jobs_per_second_concurrent": round(jobs / concurrent_s, 1),
        "messages_parsed_per_second": round(parse_rate),
        "run_events_per_second": round(texts / (sequential_s + concurrent_s)),
        "sockets_per_backend": max_sockets,
        "websocket_connects": connects,
    }


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    print(json.dumps(asyncio.run(run(count)), indent=2))
