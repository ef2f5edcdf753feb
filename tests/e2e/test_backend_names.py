"""Members read a backend's name, never its address: the whole bot, through the real discord.py.

Every request the bot sends to Discord (messages, edits, interaction answers, followups) is searched for
the hosts, ports, paths and credentials of the configured backends.
"""

from __future__ import annotations

import json
import re
import socket
from typing import Any

from bot.jobmodel.states import JobState
from tests.e2e.harness import BotUnderTest, embed_text, job_id_of, message_edits, private_reply, status_of
from tests.e2e.moderation_support import mod
from tests.fakes.comfyui.server import FakeComfyUI

NAMES = ("Big GPU", "Laptop", "Spare")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _leaks(bot: BotUnderTest, ports: list[int]) -> list[tuple[str, str]]:
    """(request, what it gave away) for every request to Discord that mentions where a backend lives."""
    assert bot.app is not None
    words = ["127.0.0.1", "localhost", "alice", "s3cret-pw", "bob", "hunter2", "/api", "/comfy"]
    words += ["http://", "https://", "ws://", "wss://"]
    words += [e.base_url for e in bot.app.settings.backends] + [e.name for e in bot.app.settings.backends]
    found = []
    for request in bot.fake.requests:
        text = json.dumps(request.json, ensure_ascii=False) + " ".join(
            f.filename or "" for f in request.files
        )
        found += [(repr(request), word) for word in words if word in text]
        found += [(repr(request), str(port)) for port in ports if re.search(rf"\b{port}\b", text)]
    return found


async def _wait_ready(bot: BotUnderTest, live: int) -> None:
    pool = bot.engine.pool
    await bot.fake.wait_for(lambda: all(b.healthy and b.capable for b in pool.backends[:live]), timeout=10)


async def _reply(bot: BotUnderTest, name: str, options: dict[str, Any] | None = None) -> str:
    record = await bot.fake.slash(name, options)
    return str((await private_reply(bot.fake, record)).content)


async def test_members_read_backend_names_and_discord_never_gets_an_address(
    make_bot, fake_comfy_factory
) -> None:
    first: FakeComfyUI = await fake_comfy_factory(step_delay=0.05)
    second: FakeComfyUI = await fake_comfy_factory(step_delay=0.05)
    dead = _free_port()
    bot = await make_bot(
        backends=[
            f"http://alice:s3cret-pw@127.0.0.1:{first.port}/api",
            f"http://127.0.0.1:{second.port}",
            f"https://bob:hunter2@localhost:{dead}/comfy/",
        ],
        env={"COMFYUI_NAMES": ",".join(NAMES)},
        wait_backends=False,
    )
    fake = bot.fake
    await _wait_ready(bot, live=2)
    pool = bot.engine.pool

    # A job runs: the status message says where by name, and so does the result.
    record = await fake.slash("imagine", {"prompt": "a lighthouse", "steps": 20, "seed": 21})
    message = await status_of(fake, record)
    job = await bot.wait_job(job_id_of(message), JobState.DELIVERED)
    name = pool.display_name(job.backend)
    assert name in NAMES[:2]
    shown = [embed_text(edit.json) for edit in message_edits(fake, message.id, [record.token])]
    assert any(f"Running on {name}" in text for text in shown), shown
    assert f"Ran on: {name}" in embed_text(fake.message(message.id))

    assert "Image servers: Big GPU (idle), Laptop (idle), Spare (not answering)" in await _reply(bot, "queue")
    assert f"`{job.id}` /imagine: done on {name}" in await _reply(bot, "jobs")
    show = await fake.slash("show", {"job": job.id})
    reposted = await status_of(fake, show)
    await fake.wait_for(lambda: fake.message(reposted.id).attachments)
    assert f"Ran on: {name}" in embed_text(fake.message(reposted.id))
    assert f"done on {name}" in await mod(fake, "queue", {"state": "done"})
    stats = await mod(fake, "stats")
    assert all(f"**{n}**" in stats for n in NAMES), stats

    # A run fails: the reason names the backend.
    for server in (first, second):
        server.fail_node("KSampler", "torch.OutOfMemoryError", "CUDA out of memory", times=3)
    record = await fake.slash("imagine", {"prompt": "too big", "steps": 2, "seed": 22})
    message = await status_of(fake, record)
    failed = await bot.wait_job(job_id_of(message), JobState.FAILED)
    failed_on = pool.display_name(failed.backend)
    await fake.wait_for(lambda: "Failed" in embed_text(fake.message(message.id)))
    assert f"{failed_on} failed at node" in embed_text(fake.message(message.id))

    # Nothing answers: the waiting reason names every backend.
    await first.stop()
    await second.stop()
    await fake.wait_for(lambda: not any(b.healthy for b in pool.backends), timeout=10)
    record = await fake.slash("imagine", {"prompt": "anyone?", "seed": 23})
    message = await status_of(fake, record)
    assert (
        "Big GPU, Laptop and Spare are not answering right now; your job stays queued until one is back."
        in embed_text(message)
    )
    assert "Spare (not answering)" in await _reply(bot, "queue")

    assert _leaks(bot, [first.port, second.port, dead]) == []


async def test_renaming_a_backend_keeps_its_running_job(make_bot, fake_comfy) -> None:
    """The name is for people; jobs store the address. A job running across a restart that renames
    its backend is picked up again (not run twice) and reports the new name."""
    fake_comfy.step_delay = 0.05
    bot = await make_bot(env={"COMFYUI_NAMES": "Big GPU"})
    record = await bot.fake.slash("imagine", {"prompt": "a long night", "steps": 30, "seed": 31})
    message = await status_of(bot.fake, record)
    running = await bot.wait_job(job_id_of(message), JobState.RUNNING)
    fake_comfy.step_delay = 0.5  # it cannot finish while the bot restarts

    bot.env["COMFYUI_NAMES"] = "Render box"
    await bot.restart()
    fake_comfy.step_delay = 0.01
    done = await bot.wait_job(running.id, JobState.DELIVERED)

    assert (done.backend, done.prompt_id, done.attempts) == (running.backend, running.prompt_id, 1)
    assert [e.prompt_id for e in fake_comfy.executions].count(running.prompt_id) == 1
    final = embed_text(bot.fake.message(message.id))
    assert "Ran on: Render box" in final
    assert "Big GPU" not in final
