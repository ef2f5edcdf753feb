"""What members see when things go wrong: one presenter, specific words, a reference id for the rest."""

from __future__ import annotations

import logging
import re

import pytest

from bot.jobmodel.states import JobState
from tests.e2e.harness import BotUnderTest, embed_text, job_id_of, private_reply, status_of


@pytest.fixture
async def bot(make_bot) -> BotUnderTest:
    return await make_bot()


async def _ends(bot: BotUnderTest, options: dict, state: JobState = JobState.FAILED):
    record = await bot.fake.slash("imagine", options)
    message = await status_of(bot.fake, record)
    job = await bot.wait_job(job_id_of(message), state)
    await bot.fake.wait_for(lambda: "Failed" in embed_text(bot.fake.message(message.id)))
    return job, bot.fake.message(message.id)


async def test_an_execution_error_names_the_node_and_what_failed(bot: BotUnderTest, fake_comfy) -> None:
    fake_comfy.fail_node("KSampler", "torch.OutOfMemoryError", "CUDA out of memory. Tried to allocate 2 GiB")
    _, message = await _ends(bot, {"prompt": "too big a dream"})
    text = embed_text(message)
    assert "KSampler" in text
    assert "OutOfMemoryError" in text
    assert "CUDA out of memory" in text
    assert not message.attachments
    assert not [c for c in message.custom_ids() if c.startswith("cc:cancel")]


async def test_a_value_the_backend_rejects_is_named(bot: BotUnderTest) -> None:
    record = await bot.fake.slash("imagine", {"prompt": "a cat", "checkpoint": "no-such-model.safetensors"})
    await record
    # Refused before queueing (a private reply), or by the backend (the status message): either way the
    # member reads which value was wrong.

    def seen() -> str | None:
        for message in [record.original_message, *record.followups]:
            if message is None or message.deleted:
                continue
            text = message.content + embed_text(message)
            if "no-such-model.safetensors" in text and ("Failed" in text or message.ephemeral):
                return text
        return None

    text = await bot.fake.wait_for(seen, timeout=10)
    assert "checkpoint" in text.lower() or "ckpt_name" in text


async def test_a_rejection_by_the_backends_validation_names_the_node_and_value(
    bot: BotUnderTest, fake_comfy
) -> None:
    """The model disappeared from the server after the bot read its /object_info: the bot's own checks
    pass, ComfyUI's validation refuses the prompt."""
    fake_comfy.checkpoints = ["sd_xl_base_1.0.safetensors"]
    _, message = await _ends(bot, {"prompt": "an old model"})
    text = embed_text(message)
    assert "rejected" in text
    assert "v1-5-pruned-emaonly.safetensors" in text
    assert "ckpt_name" in text or "Load Checkpoint" in text or "CheckpointLoaderSimple" in text


async def test_no_backend_keeps_the_job_queued_and_says_so(make_bot, fake_comfy) -> None:
    await fake_comfy.stop()
    bot = await make_bot(wait_backends=False)
    record = await bot.fake.slash("imagine", {"prompt": "anyone there?"})
    message = await status_of(bot.fake, record)
    text = embed_text(message)
    assert "GPU 1 is not answering right now; your job stays queued until it is back." in text
    job = await bot.engine.jobs.get(job_id_of(message))
    assert job.state is JobState.QUEUED
    await fake_comfy.start()  # the server comes back: the job runs and is delivered
    await bot.wait_job(job.id, JobState.DELIVERED, timeout=20)
    assert bot.fake.message(message.id).attachments


async def test_an_unexpected_error_gives_a_reference_that_is_in_the_log(bot: BotUnderTest, caplog) -> None:
    async def broken(*args, **kwargs):
        raise RuntimeError("the database caught fire")

    # (not monkeypatch.undo(): that would also undo the fixture's patch of discord.py's base URL)
    bot.engine.submit = broken
    try:
        with caplog.at_level(logging.ERROR):
            record = await bot.fake.slash("imagine", {"prompt": "a cat"})
            reply = await private_reply(bot.fake, record)
    finally:
        del bot.engine.submit
    match = re.search(r"reference `([0-9a-f]+)`", reply.content)
    assert match, reply.content
    assert "the database caught fire" not in reply.content
    assert any(match.group(1) in r.getMessage() for r in caplog.records)
    assert (
        record.original_message is None
        or record.original_message.deleted
        or record.original_message.ephemeral
    )
    again = await bot.fake.slash("imagine", {"prompt": "a cat", "steps": 2})
    await bot.wait_job(job_id_of(await status_of(bot.fake, again)), JobState.DELIVERED)


async def test_an_unexpected_error_in_a_general_command_gives_a_reference(
    bot: BotUnderTest, monkeypatch, caplog
) -> None:
    async def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(bot.engine.jobs, "recent_for_user", broken)
    with caplog.at_level(logging.ERROR):
        record = await bot.fake.slash("jobs")
        reply = await private_reply(bot.fake, record)
    match = re.search(r"reference `([0-9a-f]+)`", reply.content)
    assert match, reply.content
    assert any(match.group(1) in r.getMessage() for r in caplog.records)
