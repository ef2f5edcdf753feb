"""The Discord front end under load: jobs from many members through the real discord.py, the fake
Discord and fake ComfyUI backends, with live progress, previews and moderation on.

* ``submit_overhead_ms``: from the slash command's INTERACTION_CREATE dispatch to the fake ComfyUI
  receiving its ``POST /prompt`` (defer, moderation, validation, the database, the scheduler and the
  render; the bot may dispatch several prompts per backend, so queueing in ComfyUI is not counted).
* ``deliver_overhead_ms``: from the execution's end in the fake ComfyUI (after its last image frame)
  to the fake Discord receiving the request that uploads the result.
* ``discord_requests_per_job``: every REST request after startup (acknowledgements, status edits,
  results) per job; ``discord_429``: rate-limited answers (the target is 0).

Members submit at a steady rate into one channel (the worst case for the per-channel budget).
``python -m bench.discord_bench [--quick]`` prints JSON; ``run(jobs, users)`` is what bench/__main__ uses.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any

import yarl

from bench.stats import summary
from bot.jobmodel.states import JobState
from tests.e2e.harness import BotUnderTest, job_id_of
from tests.fakes.comfyui.server import FakeComfyUI
from tests.fakes.discord.server import FakeDiscord

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="'audioop' is deprecated", category=DeprecationWarning)
    import discord.gateway
    import discord.http

# Time is scaled down about four times: 1.2 s jobs with a 0.5 s edit interval stand for 5 s jobs with
# Discord's 2 s. Discord's own limits (5 edits per 5 s per channel in the fake) are not scaled.
BACKENDS = 8
STEPS = 20
STEP_DELAY = 0.06  # 1.2 s of sampling per job: about 6.5 jobs a second over eight backends
ARRIVALS_PER_SECOND = 5.0
EDIT_INTERVAL = "0.5"
#: moderation limits that would refuse a member's tenth job in a few seconds (a bench, not a raid)
POLICY = {"cooldown_seconds": "0", "max_queued_per_user": "0", "daily_jobs": "0"}


class _TimedList(list[Any]):
    """The fake ComfyUI's ``prompt_requests``, remembering when each body arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item: Any) -> None:
        self.times.append(time.monotonic())
        super().append(item)


@contextmanager
def _pointed_at(fake: FakeDiscord) -> Iterator[None]:
    """What tests/fakes/discord/client.py point_discord_at does with monkeypatch, by hand."""
    route, socket = discord.http.Route, discord.gateway.DiscordWebSocket
    saved = route.BASE, socket.DEFAULT_GATEWAY
    setattr(route, "BASE", fake.api_base)  # noqa: B010 - the same two attributes as the test fixture
    setattr(socket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url))  # noqa: B010
    try:
        yield
    finally:
        setattr(route, "BASE", saved[0])  # noqa: B010
        setattr(socket, "DEFAULT_GATEWAY", saved[1])  # noqa: B010


async def _wait_delivered(bot: BotUnderTest, ids: list[str], patience: float) -> None:
    deadline = time.monotonic() + patience
    pending = set(ids)
    while pending:
        for job_id in list(pending):
            job = await bot.engine.jobs.get(job_id)
            if job is not None and job.state in (JobState.DELIVERED, JobState.FAILED, JobState.CANCELLED):
                pending.discard(job_id)
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} job(s) not delivered")
        await asyncio.sleep(0.05)


async def run(jobs: int = 200, users: int = 20) -> dict[str, Any]:
    """``jobs`` image commands from ``users`` members; the figures described in the module docstring."""
    async with AsyncExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="comfycord-discord-bench-")))
        fake = await stack.enter_async_context(FakeDiscord())
        stack.enter_context(_pointed_at(fake))
        comfies = []
        for n in range(BACKENDS):
            comfy = await stack.enter_async_context(
                FakeComfyUI(root_dir=tmp / f"comfy-{n}", step_delay=STEP_DELAY)
            )
            comfy.prompt_requests = _TimedList()
            comfies.append(comfy)
        members = [fake.user]
        for n in range(users - 1):
            member = fake.create_user(f"member{n}")
            fake.add_member(fake.guild, member)
            members.append(member)
        bot = BotUnderTest(
            fake,
            tmp / "data",
            [c.base_url for c in comfies],
            env={
                "MAX_QUEUED_PER_USER": str(jobs),
                "MAX_QUEUED_TOTAL": str(jobs),
                "COMFYUI_MAX_IN_FLIGHT": "4",
                "EDIT_INTERVAL": EDIT_INTERVAL,
            },
            policy=POLICY,
        )
        await bot.start()
        stack.push_async_callback(bot.stop)
        startup_requests = len(fake.requests)

        started = time.monotonic()
        records = []
        for n in range(jobs):
            records.append(
                await fake.slash(
                    "imagine", {"prompt": f"bench {n}", "steps": STEPS}, user=members[n % len(members)]
                )
            )
            await asyncio.sleep(max(0.0, started + (n + 1) / ARRIVALS_PER_SECOND - time.monotonic()))

        def all_shown() -> bool:
            return all(r.original_message is not None and r.original_message.embeds for r in records)

        await fake.wait_for(all_shown, timeout=60)
        ids = [job_id_of(r.original_message) for r in records]
        await _wait_delivered(bot, ids, patience=max(60.0, jobs))
        wall = time.monotonic() - started
        await asyncio.sleep(0.5)  # let trailing requests (e.g. discord.py's own) land before counting

        prompt_at: dict[str, float] = {}
        for comfy in comfies:
            for body, at in zip(comfy.prompt_requests, comfy.prompt_requests.times, strict=True):
                job_id = (body.get("extra_data") or {}).get("comfycord_job")
                if job_id is not None:
                    prompt_at.setdefault(job_id, at)
        ended_at = {e.prompt_id: e.ended_at for c in comfies for e in c.executions if e.outcome == "success"}
        uploads: dict[str, float] = {}
        for request in fake.requests:
            if request.status < 300:
                for file in request.files:
                    for job_id in ids:
                        if file.filename and job_id in file.filename:
                            uploads.setdefault(job_id, request.timestamp)
        submit, deliver = [], []
        states: dict[str, int] = {}
        for record, job_id in zip(records, ids, strict=True):
            job = await bot.engine.jobs.get(job_id)
            assert job is not None
            states[job.state.value] = states.get(job.state.value, 0) + 1
            if job_id in prompt_at:
                submit.append(prompt_at[job_id] - record.created_at)
            if job.prompt_id in ended_at and job_id in uploads:
                deliver.append(uploads[job_id] - ended_at[job.prompt_id])
        requests = fake.requests[startup_requests:]
        fake.check_unexpected()
        return {
            "jobs": jobs,
            "users": users,
            "backends": BACKENDS,
            "states": states,
            "wall_s": round(wall, 2),
            "submit_overhead_ms": summary(submit),
            "deliver_overhead_ms": summary(deliver),
            "ack_latency_ms": summary([r.ack_latency for r in records if r.ack_latency is not None]),
            "discord_requests_per_job": round(len(requests) / jobs, 2),
            "discord_requests": _by_route(requests),
            "discord_429": fake.stats.rate_limited,
        }


def _by_route(requests: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for request in requests:
        key = f"{request.method} {request.route or request.path}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    quick = "--quick" in sys.argv
    print(json.dumps(asyncio.run(run(40 if quick else 200, 8 if quick else 20)), indent=2))
