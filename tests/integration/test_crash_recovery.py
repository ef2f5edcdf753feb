"""SIGKILL the engine at random moments; every job must still end delivered (or notified) exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from pathlib import Path

import pytest

from bot.jobs.states import JobState
from bot.storage import Database, DeliveryKind, DeliveryRepository, JobRepository

ROOT = Path(__file__).resolve().parents[2]
TOTAL = 50


async def _spawn(data: Path, urls: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.crash.worker",
        str(data),
        urls,
        str(TOTAL),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGKILL)
    await proc.wait()


async def _snapshot(data: Path) -> tuple[dict[str, JobState], set[str]]:
    async with await Database.open_in(data) as db:
        jobs = {j.id: j.state for j in await JobRepository(db).list_by_state(*JobState)}
        deliveries = DeliveryRepository(db)
        recorded = {
            job_id
            for job_id in jobs
            if await deliveries.was_delivered(job_id, DeliveryKind.RESULT)
            or await deliveries.was_delivered(job_id, DeliveryKind.STATUS)
        }
    return jobs, recorded


def _done(jobs: dict[str, JobState], recorded: set[str]) -> bool:
    finished = {JobState.DELIVERED, JobState.FAILED, JobState.CANCELLED, JobState.REJECTED}
    return len(jobs) == TOTAL and all(s in finished for s in jobs.values()) and recorded == set(jobs)


@pytest.mark.timeout(120)
async def test_sigkill_at_random_moments_loses_and_duplicates_nothing(fake_comfy_factory, tmp_path) -> None:
    rng = random.Random(20261121)
    fakes = [await fake_comfy_factory(step_delay=0.004) for _ in range(2)]
    fakes[0].fail_node("VAEDecode", "RuntimeError", "injected", times=3)
    urls = ",".join(f.base_url for f in fakes)
    data = tmp_path / "data"
    data.mkdir()
    kills = 0
    for _ in range(4):  # several lives, each ended by SIGKILL at a random moment
        proc = await _spawn(data, urls)
        await asyncio.sleep(rng.uniform(0.8, 2.5))
        await _kill(proc)
        kills += 1
    proc = await _spawn(data, urls)
    try:
        for _ in range(600):
            await asyncio.sleep(0.1)
            if proc.returncode is not None:
                raise AssertionError((await proc.stderr.read()).decode()[-3000:])  # type: ignore[union-attr]
            jobs, recorded = await _snapshot(data)
            if _done(jobs, recorded):
                break
    finally:
        await _kill(proc)
    jobs, recorded = await _snapshot(data)
    assert kills == 4
    assert len(jobs) == TOTAL, "a submitted job was lost"
    stuck = {
        j: s
        for j, s in jobs.items()
        if s not in (JobState.DELIVERED, JobState.FAILED, JobState.CANCELLED, JobState.REJECTED)
    }
    assert not stuck
    posted = [json.loads(line) for line in (data / "posted.jsonl").read_text().splitlines()]
    per_job: dict[str, int] = {}
    for entry in posted:
        per_job[entry["job"]] = per_job.get(entry["job"], 0) + 1
    assert set(per_job) == set(jobs), "every job reached its member"
    assert max(per_job.values()) == 1, "no job reached its member twice"
    for entry in posted:
        expected_kind = "result" if jobs[entry["job"]] is JobState.DELIVERED else "status"
        assert entry["kind"] == expected_kind
    states = set(jobs.values())
    assert {JobState.DELIVERED, JobState.CANCELLED, JobState.REJECTED} <= states
    # Nothing left behind: every ended job's spool folder is gone.
    spool = data / "spool"
    leftovers = [p.name for p in spool.iterdir()] if spool.exists() else []
    assert leftovers == []
