"""A bot-less engine process for the crash test: submit N jobs, approve, cancel, deliver, and die on cue.

Run as ``python -m tests.integration.crash.worker DATA_DIR URL[,URL] N [KILL_POINT]``. With a kill point
the process SIGKILLs itself the first time its job's life reaches that point (so every run covers every
point, whatever the machine's speed), after writing ``DATA_DIR/kills.jsonl``:

- ``before_prompt``: a ``POST /prompt`` is about to be sent;
- ``while_running``: ComfyUI reported the first step of a prompt;
- ``after_stored``: a job's results are stored (SUCCEEDED) and not yet posted;
- ``after_post``: the sink posted a job's results, before the engine got the receipt.

Each life writes to ``lives.jsonl`` the deliveries the database had recorded when it began. Every post
the engine attempts is written to ``DATA_DIR/attempts.jsonl``, with the life, and the idempotency key the
sink gives it (as the Discord sink gives a nonce); ``posted.jsonl`` holds what a member would see:
a post whose key was seen before is answered with the earlier message, as Discord does with a nonce.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
import urllib.request
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from bot.jobmodel.model import Job, OutputRef
from bot.jobmodel.states import JobState
from bot.jobs.delivery import Receipt
from bot.jobs.engine import EngineLimits
from bot.jobs.planning import JobRequest
from bot.storage import DATABASE_FILE, Database
from tests.integration.engine_harness import build_harness

KILL_POINTS = ("before_prompt", "while_running", "after_stored", "after_post")


def append(path: Path, entry: dict[str, object]) -> None:
    with path.open("a") as handle:
        handle.write(json.dumps(entry) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


class Killer:
    """Dies (SIGKILL, no clean-up) the first time ``point`` is reached. Dying while a prompt runs, it
    first pauses the fake backends, so the prompt is still running when the next life re-attaches."""

    def __init__(self, folder: Path, point: str | None, urls: list[str]) -> None:
        self.folder = folder
        self.point = point
        self.urls = urls

    def at(self, point: str, job_id: str) -> None:
        if point == self.point:
            if point == "while_running":
                for url in self.urls:  # blocking is fine: this process is about to die
                    urllib.request.urlopen(urllib.request.Request(f"{url}/__fake__/pause", method="POST"))
            # CLOCK_MONOTONIC is shared by every process: the test compares it with the fakes' records.
            append(self.folder / "kills.jsonl", {"point": point, "job": job_id, "at": time.monotonic()})
            os.kill(os.getpid(), signal.SIGKILL)


class JournalSink:
    """Posts into ``posted.jsonl`` once per idempotency key, records every attempt."""

    def __init__(self, folder: Path, killer: Killer) -> None:
        self.folder = folder
        self.killer = killer

    async def _post(self, job: Job, kind: str, extra: dict[str, object]) -> Receipt:
        key = f"{job.id}:{kind}"
        append(self.folder / "attempts.jsonl", {"job": job.id, "kind": kind, "key": key, "life": os.getpid()})
        if not any(e["key"] == key for e in read(self.folder / "posted.jsonl")):
            append(self.folder / "posted.jsonl", {"job": job.id, "kind": kind, "key": key, **extra})
        self.killer.at("after_post", job.id)
        return Receipt(job.channel_id, (1,))

    async def deliver(self, job: Job, outputs: Sequence[OutputRef]) -> Receipt:
        for output in outputs:
            output.path.read_bytes()  # the files must still be there
        return await self._post(job, "result", {"outputs": len(outputs)})

    async def notify_end(self, job: Job) -> Receipt:
        return await self._post(job, "status", {"reason": job.failure_reason})


async def recorded_deliveries(data: Path) -> list[str]:
    """Jobs whose delivery the database recorded before this life began (none may be posted again)."""
    if not (data / DATABASE_FILE).exists():
        return []
    async with await Database.open_in(data) as db:
        rows = await db.fetch_all("SELECT job_id || ':' || kind FROM deliveries")
    return [str(row[0]) for row in rows]


async def main(data: Path, urls: list[str], total: int, point: str | None) -> None:
    killer = Killer(data, point, urls)
    append(data / "lives.jsonl", {"life": os.getpid(), "recorded": await recorded_deliveries(data)})
    async with AsyncExitStack() as stack:
        h = await build_harness(
            stack,
            data,
            urls,
            client_ids=[f"crash-{i}" for i in range(len(urls))],
            limits=EngineLimits(reconnect_grace=1.0, retention_seconds=0.0, max_queued_per_user=100),
        )
        for backend in h.pool.backends:
            http = backend.client.http
            send = http.queue_prompt

            async def queue_prompt(*args: Any, _send: Any = send, **kwargs: Any) -> Any:
                killer.at("before_prompt", str((kwargs.get("extra_data") or {}).get("comfycord_job")))
                return await _send(*args, **kwargs)

            http.queue_prompt = queue_prompt  # type: ignore[method-assign]
        publish = h.engine.updates.publish

        def watch(update: Any) -> None:
            if update.step is not None:
                killer.at("while_running", update.job.id)
            if update.job.state is JobState.SUCCEEDED:
                killer.at("after_stored", update.job.id)
            publish(update)

        h.engine.updates.publish = watch  # type: ignore[method-assign]
        h.engine.set_sink(JournalSink(data, killer))
        await h.wait_healthy(timeout=30)
        existing = len(await h.engine.jobs.list_by_state(*JobState))
        for n in range(existing, total):
            review = n % 7 == 3
            job = await h.engine.submit(
                JobRequest(
                    user_id=n % 5,
                    channel_id=1,
                    guild_id=1,
                    template="imagine",
                    values={"prompt": f"job {n}", "seed": n, "steps": 6},
                    needs_review=review,
                )
            )
            if n % 10 == 4:
                await h.engine.cancel(job.id)
        while True:
            for job in await h.engine.jobs.list_by_state(JobState.PENDING_REVIEW):
                if int(job.params["seed"]) % 2:
                    await h.engine.approve(job.id)
                else:
                    await h.engine.reject(job.id, "not today")
            await h.engine.sweep_spool()
            await asyncio.sleep(0.05)


if __name__ == "__main__":
    logging.basicConfig(  # each life's log, for whoever reads a failure
        filename=Path(sys.argv[1]) / "worker.log",
        level=logging.INFO,
        format=f"%(asctime)s {os.getpid()} %(name)s %(message)s",
    )
    point = sys.argv[4] if len(sys.argv) > 4 else None
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2].split(","), int(sys.argv[3]), point))
