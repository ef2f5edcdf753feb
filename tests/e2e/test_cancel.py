"""Cancelling from the status message's button and from /cancel; only one's own jobs."""

from __future__ import annotations

import pytest

from bot.jobmodel.states import JobState
from tests.e2e.harness import BotUnderTest, embed_text, job_id_of, private_reply, status_of


@pytest.fixture
async def bot(make_bot, fake_comfy) -> BotUnderTest:
    fake_comfy.step_delay = 0.05  # 40 steps: long enough to cancel while it runs
    return await make_bot()


async def _running(bot: BotUnderTest, prompt: str = "a long walk", user=None):
    record = await bot.fake.slash("imagine", {"prompt": prompt, "steps": 40}, user=user)
    message = await status_of(bot.fake, record)
    job = await bot.wait_job(job_id_of(message), JobState.RUNNING)
    return job, message


async def _shows_cancelled(bot: BotUnderTest, message) -> None:
    await bot.fake.wait_for(lambda: "Cancelled" in embed_text(bot.fake.message(message.id)))
    final = bot.fake.message(message.id)
    assert not [c for c in final.custom_ids() if c.startswith("cc:cancel")], "no Cancel button left"


async def test_cancel_button_stops_a_running_job(bot: BotUnderTest, fake_comfy) -> None:
    job, message = await _running(bot)
    click = await bot.fake.click(f"cc:cancel:{job.id}", message)
    reply = await private_reply(bot.fake, click)
    assert f"Cancelled job `{job.id}`" in reply.content
    await bot.wait_job(job.id, JobState.CANCELLED)
    await _shows_cancelled(bot, message)
    await fake_comfy.wait_idle()
    assert fake_comfy.executions[-1].outcome == "interrupted"


async def test_cancel_button_of_someone_elses_job_is_refused(bot: BotUnderTest) -> None:
    fake = bot.fake
    job, message = await _running(bot)
    carol = fake.create_user("carol")
    fake.add_member(fake.guild, carol)
    click = await fake.click(f"cc:cancel:{job.id}", message, user=carol)
    assert "Only the member who asked" in (await private_reply(fake, click)).content
    assert (await bot.engine.jobs.get(job.id)).state in (
        JobState.RUNNING,
        JobState.SUCCEEDED,
        JobState.DELIVERED,
    )


async def test_cancel_command_without_an_id_cancels_the_newest_job(bot: BotUnderTest) -> None:
    job, message = await _running(bot)
    command = await bot.fake.slash("cancel")
    assert f"Cancelled job `{job.id}`" in (await private_reply(bot.fake, command)).content
    await bot.wait_job(job.id, JobState.CANCELLED)
    await _shows_cancelled(bot, message)


async def test_cancel_command_with_an_id(bot: BotUnderTest) -> None:
    job, message = await _running(bot)
    command = await bot.fake.slash("cancel", {"job": job.id})
    assert f"Cancelled job `{job.id}`" in (await private_reply(bot.fake, command)).content
    await _shows_cancelled(bot, message)


async def test_cancel_command_for_someone_elses_job_is_refused(bot: BotUnderTest) -> None:
    fake = bot.fake
    job, _ = await _running(bot)
    carol = fake.create_user("carol")
    fake.add_member(fake.guild, carol)
    command = await fake.slash("cancel", {"job": job.id}, user=carol)
    answer = (await private_reply(fake, command)).content
    assert answer == "Only the member who asked for this job (or a moderator) can cancel it."
    nothing = await fake.slash("cancel", user=carol)
    assert "no jobs waiting or running" in (await private_reply(fake, nothing)).content
    assert (await bot.engine.jobs.get(job.id)).state is not JobState.CANCELLED


async def test_cancel_of_a_finished_job_says_so(bot: BotUnderTest, fake_comfy) -> None:
    fake_comfy.step_delay = 0
    record = await bot.fake.slash("imagine", {"prompt": "quick", "steps": 2})
    message = await status_of(bot.fake, record)
    job = await bot.wait_job(job_id_of(message), JobState.DELIVERED)
    command = await bot.fake.slash("cancel", {"job": job.id})
    assert "already delivered" in (await private_reply(bot.fake, command)).content
