"""SIGKILL the engine at each chosen point of a job's life; every job must still end delivered (or
notified) exactly once, and no prompt may run twice on the GPU behind the member's back.

The worker kills itself when its life reaches the point it was given (see crash/worker.py), so every
run covers every point, however fast or loaded the machine is. Every post the engine attempts is
recorded with its idempotency key: a build that posts a result twice fails here even though the sink,
like Discord with a nonce, shows the member only one message.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bot.jobmodel.states import JobState
from bot.storage import Database, DeliveryKind, DeliveryRepository, JobRepository
from tests.integration.crash.worker import KILL_POINTS, read

ROOT = Path(__file__).resolve().parents[2]
TOTAL = 30
ENDED = {JobState.DELIVERED, JobState.FAILED, JobState.CANCELLED, JobState.REJECTED}


async def _spawn(data: Path, urls: str, point: str | None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.crash.worker",
        str(data),
        urls,
        str(TOTAL),
        *([point] if point else []),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def _snapshot(data: Path) -> tuple[dict[str, Any], set[str]]:
    async with await Database.open_in(data) as db:
        jobs = {j.id: j for j in await JobRepository(db).list_by_state(*JobState)}
        deliveries = DeliveryRepository(db)
        recorded = {
            job_id
            for job_id in jobs
            if await deliveries.was_delivered(job_id, DeliveryKind.RESULT)
            or await deliveries.was_delivered(job_id, DeliveryKind.STATUS)
        }
    return jobs, recorded


async def _until(check: Any, proc: asyncio.subprocess.Process, what: str, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if proc.returncode is not None:
            raise AssertionError(f"worker exited early: {(await proc.stderr.read()).decode()[-3000:]}")  # type: ignore[union-attr]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.mark.timeout(180)
async def test_sigkill_at_every_point_of_a_jobs_life_loses_and_duplicates_nothing(
    fake_comfy_factory, tmp_path
) -> None:
    fakes = [await fake_comfy_factory(step_delay=0.004) for _ in range(2)]
    fakes[0].fail_node("VAEDecode", "RuntimeError", "injected", times=2)
    urls = ",".join(f.base_url for f in fakes)
    data = tmp_path / "data"
    data.mkdir()
    for point in KILL_POINTS:
        proc = await _spawn(data, urls, point)
        await asyncio.wait_for(proc.wait(), 60)
        assert proc.returncode == -9, (point, (await proc.stderr.read()).decode()[-3000:])  # type: ignore[union-attr]
        if point == "while_running":
            # The worker paused the backends as it died, so its prompt is still running when the next
            # life re-attaches: it must follow that run, not start it again.
            for _ in range(500):  # the dead process's sockets are closed before the next life opens its own
                if not any(fake.client_ids for fake in fakes):
                    break
                await asyncio.sleep(0.01)
            proc = await _spawn(data, urls, "after_stored")
            await _until(
                _reattached(fakes), proc, "the next life to connect to the backends again", timeout=30
            )
            for fake in fakes:
                fake.resume()
            await asyncio.wait_for(proc.wait(), 60)
    kills = read(data / "kills.jsonl")
    assert [k["point"] for k in kills] == [*KILL_POINTS[:2], "after_stored", *KILL_POINTS[2:]]
    proc = await _spawn(data, urls, None)
    try:

        async def done() -> bool:
            jobs, recorded = await _snapshot(data)
            ended = len(jobs) == TOTAL and all(j.state in ENDED for j in jobs.values())
            swept = not (data / "spool").exists() or not any((data / "spool").iterdir())
            return ended and recorded == set(jobs) and swept

        await _until(done, proc, "every job to end and reach its member", timeout=90)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()

    jobs, _ = await _snapshot(data)
    assert len(jobs) == TOTAL, "a submitted job was lost"
    posted = read(data / "posted.jsonl")
    assert Counter(p["job"] for p in posted) == Counter(set(jobs)), "every job reached its member once"
    for entry in posted:
        expected = "result" if jobs[entry["job"]].state is JobState.DELIVERED else "status"
        assert entry["kind"] == expected
    # Every attempt is counted. A life never posts something twice, nor something a previous life
    # recorded as posted; a post repeated because a life died before recording it carries the same key,
    # so its member still sees one message.
    attempts = read(data / "attempts.jsonl")
    per_life = Counter((a["life"], a["key"]) for a in attempts)
    assert max(per_life.values()) == 1, [k for k, n in per_life.items() if n > 1]
    recorded = {life["life"]: set(life["recorded"]) for life in read(data / "lives.jsonl")}
    assert not [a for a in attempts if a["key"] in recorded[a["life"]]], (
        "a recorded delivery was posted again"
    )
    assert all(a["key"] == f"{a['job']}:{a['kind']}" for a in attempts)
    after_post = next(k for k in kills if k["point"] == "after_post")
    # posted, died before the receipt, posted again (once more for each earlier life that died so)
    assert Counter(a["job"] for a in attempts)[after_post["job"]] >= 2
    # No silent re-runs on the GPU. After each kill, its job started at most one new execution: none
    # when it was running (re-attached, not run again) or its results were stored, and only the one
    # that had not been sent when the process died before sending it. (A prompt that ended while no
    # process could store its SaveImageWebsocket frames must run again: those frames exist only on
    # the wire, which is why earlier kills may have cost a job more runs.) And no job ran twice at once.
    runs = _runs_per_job(fakes)
    allowed = {"before_prompt": 1, "while_running": 0, "after_stored": 0, "after_post": 0}
    for kill in kills:
        later = [r for r in runs.get(kill["job"], []) if r[0] > kill["at"]]
        assert len(later) <= allowed[kill["point"]], (kill, runs[kill["job"]], _log_of(data, kill["job"]))
    for job_id, executions in runs.items():
        spans = sorted((start, end) for start, end, _ in executions)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), (job_id, spans)
    assert {JobState.DELIVERED, JobState.CANCELLED, JobState.REJECTED, JobState.FAILED} <= {
        j.state for j in jobs.values()
    }
    spool = data / "spool"
    assert (list(spool.iterdir()) if spool.exists() else []) == [], "every ended job's files are gone"


def _reattached(fakes: list[Any]) -> Any:
    async def check() -> bool:
        return all(f"crash-{i}" in fake.client_ids for i, fake in enumerate(fakes))

    return check


def _runs_per_job(fakes: list[Any]) -> dict[str, list[tuple[float, float, str]]]:
    """Every execution on the fakes, per job: (started, ended, outcome)."""
    job_of = {
        body.get("prompt_id"): (body.get("extra_data") or {}).get("comfycord_job")
        for fake in fakes
        for body in fake.prompt_requests
    }
    runs: dict[str, list[tuple[float, float, str]]] = {}
    for fake in fakes:
        for e in fake.executions:
            if e.prompt_id in job_of:
                runs.setdefault(job_of[e.prompt_id], []).append((e.started_at, e.ended_at, e.outcome))
    return runs


def _log_of(data: Path, job_id: str) -> str:
    lines = (data / "worker.log").read_text().splitlines()
    return "\n".join(line for line in lines if job_id in line or "recovered" in line)
