"""Many jobs at once in one channel: every one delivered, and Discord never answers 429."""

from __future__ import annotations

import asyncio

import pytest

from bot.jobs.states import JobState
from tests.e2e.harness import BotUnderTest, job_id_of, status_of


@pytest.fixture
def users(fake_discord):
    made = []
    for n in range(6):
        user = fake_discord.create_user(f"member{n}")
        fake_discord.add_member(fake_discord.guild, user)
        made.append(user)
    return made


async def test_thirty_concurrent_jobs_in_one_channel_without_a_429(
    fake_discord, fake_comfy, users, tmp_path
) -> None:
    fake_comfy.step_delay = 0.005
    bot = BotUnderTest(
        fake_discord, tmp_path / "data", [fake_comfy.base_url], env={"MAX_QUEUED_PER_USER": "10"}
    )
    await bot.start()
    try:
        records = await asyncio.gather(
            *(
                fake_discord.slash(
                    "imagine", {"prompt": f"crowd {i}", "steps": 3}, user=users[i % len(users)]
                )
                for i in range(30)
            )
        )
        messages = await asyncio.gather(*(status_of(fake_discord, r) for r in records))
        ids = [job_id_of(m) for m in messages]
        assert len(set(ids)) == 30
        for job_id in ids:
            await bot.wait_job(job_id, JobState.DELIVERED, timeout=30)
        for message in messages:
            assert fake_discord.message(message.id).attachments
        assert fake_discord.stats.rate_limited == 0, [r for r in fake_discord.requests if r.status == 429]
        assert all(r.ack_latency is not None and r.ack_latency < 3 for r in records)
    finally:
        await bot.stop()


async def test_thirty_concurrent_jobs_edited_through_the_channel_without_a_429(
    fake_discord, fake_comfy, users, tmp_path
) -> None:
    """After the tokens died every edit shares the channel's bucket, deliveries included."""
    fake_comfy.step_delay = 0.005
    bot = BotUnderTest(
        fake_discord,
        tmp_path / "data",
        [fake_comfy.base_url],
        env={"MAX_QUEUED_PER_USER": "10"},
        options={"token_seconds": 0.0},
    )
    await bot.start()
    try:
        records = await asyncio.gather(
            *(
                fake_discord.slash("imagine", {"prompt": f"crowd {i}", "steps": 3}, user=users[i % len(users)])
                for i in range(30)
            )
        )
        messages = await asyncio.gather(*(status_of(fake_discord, r) for r in records))
        for message in messages:
            await bot.wait_job(job_id_of(message), JobState.DELIVERED, timeout=60)
        assert all(fake_discord.message(m.id).attachments for m in messages)
        assert fake_discord.stats.rate_limited == 0, [r for r in fake_discord.requests if r.status == 429]
    finally:
        await bot.stop()
