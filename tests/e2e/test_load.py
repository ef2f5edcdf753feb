"""Many jobs at once in one channel: every one delivered, and Discord never answers 429."""

from __future__ import annotations

import asyncio

from bot.jobmodel.states import JobState
from tests.e2e.harness import BotUnderTest, embed_text, job_id_of, status_of


def members(fake, count: int = 6) -> list:
    made = []
    for n in range(count):
        user = fake.create_user(f"member{n}")
        fake.add_member(fake.guild, user)
        made.append(user)
    return made


async def _run_concurrently(bot: BotUnderTest, jobs: int, steps: int) -> list:
    fake = bot.fake
    users = members(fake)
    records = await asyncio.gather(
        *(
            fake.slash("imagine", {"prompt": f"crowd {i}", "steps": steps}, user=users[i % len(users)])
            for i in range(jobs)
        )
    )
    messages = await asyncio.gather(*(status_of(fake, r) for r in records))
    assert len({job_id_of(m) for m in messages}) == jobs
    for message in messages:
        await bot.wait_job(job_id_of(message), JobState.DELIVERED, timeout=30)
    assert all(r.ack_latency is not None and r.ack_latency < 3 for r in records)
    return [fake.message(m.id) for m in messages]


async def test_thirty_concurrent_jobs_in_one_channel_without_a_429(make_bot, fake_comfy) -> None:
    fake_comfy.step_delay = 0.01
    bot = await make_bot(env={"MAX_QUEUED_PER_USER": "10"})
    finals = await _run_concurrently(bot, 30, steps=4)
    assert all(m.attachments for m in finals)
    assert bot.fake.stats.rate_limited == 0, [r for r in bot.fake.requests if r.status == 429]


async def test_queued_jobs_see_their_position_move_up(make_bot, fake_comfy) -> None:
    """The queue is held still by pausing the backend, then moved by exactly one finished job: the
    messages of the jobs behind it must show their new places (on any machine, however slow)."""
    fake_comfy.step_delay = 0.01
    fake_comfy.pause()  # the first job stops at its first step
    bot = await make_bot(env={"MAX_QUEUED_PER_USER": "10", "COMFYUI_MAX_IN_FLIGHT": "1"})
    fake = bot.fake
    users = members(fake)
    records = [
        await fake.slash("imagine", {"prompt": f"crowd {i}", "steps": 10}, user=users[i]) for i in range(5)
    ]
    messages = [await status_of(fake, r) for r in records]
    waiting = [m for m in messages if "Position" in embed_text(fake.message(m.id))]
    await fake.wait_for(
        lambda: all("3 ahead of you" in embed_text(fake.message(m.id)) for m in waiting[-1:]), timeout=15
    )
    before = {m.id: _position(fake.message(m.id)) for m in waiting}
    fake_comfy.resume()
    await bot.fake.wait_for(lambda: len(fake_comfy.executions) >= 1, timeout=15)
    fake_comfy.pause()  # the second job stops at its next step: the queue moved by one
    await fake.wait_for(
        lambda: all(_position(fake.message(m.id)) != before[m.id] for m in waiting[1:]), timeout=15
    )
    moved = {m.id: _position(fake.message(m.id)) for m in waiting[1:]}
    fake_comfy.resume()
    for message in messages:
        await bot.wait_job(job_id_of(message), JobState.DELIVERED, timeout=30)
    assert [before[m] for m in moved] != list(moved.values()), moved
    assert "2 ahead of you" in moved[waiting[-1].id]
    assert bot.fake.stats.rate_limited == 0


def _position(message) -> str:
    fields = [f for embed in message.embeds for f in embed.get("fields", []) if f["name"] == "Position"]
    return fields[0]["value"] if fields else ""


async def test_concurrent_jobs_edited_through_the_channel_without_a_429(make_bot, fake_comfy) -> None:
    """With the tokens gone every edit shares the channel's bucket, deliveries included. (The fake's
    bucket is 5 per second here instead of Discord's 5 per 5 s, to keep the test short.)"""
    fake_comfy.step_delay = 0.01
    bot = await make_bot(
        env={"MAX_QUEUED_PER_USER": "10"}, options={"token_seconds": 0.0}, edit_rate=(5, 1.0)
    )
    finals = await _run_concurrently(bot, 15, steps=4)
    assert all(m.attachments for m in finals)
    assert bot.fake.calls("PATCH", "/channels/*/messages/*"), "edits went through the channel"
    assert bot.fake.stats.rate_limited == 0, [r for r in bot.fake.requests if r.status == 429]
