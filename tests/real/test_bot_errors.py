"""Errors from a real server as the member reads them, and the bot serving on afterwards."""

from __future__ import annotations

import pytest

from bot.jobmodel.states import JobState
from tests.e2e.harness import BotUnderTest
from tests.real.servers import RealServer
from tests.real.support import command, delivered, ended_with, half_mask, pattern


@pytest.fixture
async def bot(real_bot) -> BotUnderTest:
    return await real_bot()


async def _still_serving(bot: BotUnderTest) -> None:
    _, job_id = await command(bot, "invert", {}, files={"image": pattern((16, 16))})
    await delivered(bot, job_id)


async def test_an_out_of_memory_error_names_the_node_and_the_reason(bot: BotUnderTest, by_name) -> None:
    message, job_id = await command(bot, "huge", {})
    job = await bot.wait_job(job_id, JobState.FAILED, timeout=120)
    text = await ended_with(bot, message, "Failed")
    assert "EmptyLatentImage" in text or "Empty Latent Image" in text, text
    assert "allocate memory" in text, text
    assert "Traceback" not in text, "no traceback for the member"
    assert not bot.fake.message(message.id).attachments
    assert not [c for c in bot.fake.message(message.id).custom_ids() if c.startswith("cc:cancel")]
    (entry,) = await by_name(job.backend).history_of_job(job.id)
    assert "execution_error" in entry.events
    assert job.attempts == 1, "an execution error is not retried"
    await _still_serving(bot)


async def test_a_workflow_the_server_refuses_names_the_node_and_the_input(
    bot: BotUnderTest, servers: list[RealServer]
) -> None:
    message, job_id = await command(bot, "mismatch", {}, files={"mask": half_mask()})
    job = await bot.wait_job(job_id, JobState.FAILED, timeout=120)
    text = await ended_with(bot, message, "Failed")
    assert "rejected" in text, text
    assert "ImageInvert" in text or "Invert Image" in text, text
    assert "'image'" in text or "image" in text.split("rejected", 1)[1], text
    assert "MASK" in text, text
    assert job.attempts == 1, "a rejected workflow is not retried on another server"
    for server in servers:
        assert not await server.history_of_job(job.id), "nothing ran"
        assert not (await server.queue()).of_job(job.id)
    await _still_serving(bot)
