"""A bot-less engine process for the crash test: submit up to N jobs, approve, cancel, deliver.

Run as ``python -m tests.integration.crash.worker DATA_DIR URL[,URL] N``. The parent kills it with
SIGKILL at random moments and starts it again; everything it knows must come from DATA_DIR.
Deliveries go to ``DATA_DIR/posted.jsonl`` through a sink that, like Discord with an idempotency key,
refuses to post the same job twice, and logs every attempt to ``DATA_DIR/attempts.jsonl``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path

from bot.jobs.delivery import Receipt
from bot.jobs.engine import EngineLimits
from bot.jobs.model import Job, OutputRef
from bot.jobs.planning import JobRequest
from bot.jobs.states import JobState
from tests.integration.engine_harness import build_harness


class JournalSink:
    def __init__(self, folder: Path) -> None:
        self.posted = folder / "posted.jsonl"
        self.attempts = folder / "attempts.jsonl"

    def _append(self, path: Path, entry: dict[str, object]) -> None:
        with path.open("a") as handle:
            handle.write(json.dumps(entry) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def _already(self, job_id: str, kind: str) -> bool:
        if not self.posted.exists():
            return False
        return any(
            (e["job"], e["kind"]) == (job_id, kind)
            for e in map(json.loads, self.posted.read_text().splitlines())
        )

    async def _post(self, job: Job, kind: str, extra: dict[str, object]) -> Receipt:
        self._append(self.attempts, {"job": job.id, "kind": kind})
        if not self._already(job.id, kind):
            self._append(self.posted, {"job": job.id, "kind": kind, "state": job.state.value, **extra})
        return Receipt(job.channel_id, (1,))

    async def deliver(self, job: Job, outputs: Sequence[OutputRef]) -> Receipt:
        for output in outputs:
            output.path.read_bytes()  # the files must still be there
        return await self._post(job, "result", {"outputs": len(outputs)})

    async def notify_end(self, job: Job) -> Receipt:
        return await self._post(job, "status", {"reason": job.failure_reason})


async def main(data: Path, urls: list[str], total: int) -> None:
    async with AsyncExitStack() as stack:
        h = await build_harness(
            stack,
            data,
            urls,
            client_ids=[f"crash-{i}" for i in range(len(urls))],
            limits=EngineLimits(reconnect_grace=1.0, retention_seconds=0.0, max_queued_per_user=100),
        )
        h.engine.set_sink(JournalSink(data))
        existing = len(await h.engine.jobs.list_by_state(*JobState))
        for n in range(existing, total):
            review = n % 7 == 3
            job = await h.engine.submit(
                JobRequest(
                    user_id=n % 5,
                    channel_id=1,
                    guild_id=1,
                    template="imagine",
                    values={"prompt": f"job {n}", "seed": n},
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
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2].split(","), int(sys.argv[3])))
