"""Every button of a status or result message, after the bot restarted (a new client object on the
same database): the custom_ids carry the job id, nothing lives in memory."""

from __future__ import annotations

import pytest

from bot.jobmodel.states import JobState
from tests.e2e.harness import (
    BotUnderTest,
    button_labels,
    embed_text,
    job_id_of,
    modal_inputs,
    private_reply,
    status_of,
)


@pytest.fixture
async def bot(make_bot) -> BotUnderTest:
    return await make_bot()


async def _delivered(bot: BotUnderTest, prompt: str = "a red fox in snow", seed: int = 7):
    record = await bot.fake.slash("imagine", {"prompt": prompt, "seed": seed, "steps": 4})
    message = await status_of(bot.fake, record)
    job = await bot.wait_job(job_id_of(message), JobState.DELIVERED)
    return job, bot.fake.message(message.id)


async def _new_job_from(bot: BotUnderTest, record, *, ignore: set[str]):
    """The job a button or modal started: its response became a new status message."""
    message = await status_of(bot.fake, record)
    job_id = job_id_of(message)
    assert job_id not in ignore
    return await bot.wait_job(job_id, JobState.DELIVERED), message


async def test_reroll_after_a_restart_keeps_the_prompt_with_a_new_seed(bot: BotUnderTest) -> None:
    job, message = await _delivered(bot)
    await bot.restart()
    click = await bot.fake.click(f"cc:reroll:{job.id}", message)
    again, status = await _new_job_from(bot, click, ignore={job.id})
    assert again.params["prompt"] == job.params["prompt"]
    assert again.params["seed"] != job.params["seed"]
    assert again.template == "imagine"
    assert bot.fake.message(status.id).attachments


async def test_edit_after_a_restart_opens_a_prefilled_form_and_starts_a_new_job(bot: BotUnderTest) -> None:
    job, message = await _delivered(bot)
    await bot.restart()
    click = await bot.fake.click(f"cc:edit:{job.id}", message)
    await click
    assert click.modal is not None
    inputs = modal_inputs(click.modal)
    assert inputs["prompt"]["value"] == "a red fox in snow"
    assert inputs["negative"]["value"] == job.params["negative"]
    submit = await bot.fake.modal_submit(
        click.modal["custom_id"], {inputs["prompt"]["custom_id"]: "a blue fox in snow"}
    )
    edited, _ = await _new_job_from(bot, submit, ignore={job.id})
    assert edited.params["prompt"] == "a blue fox in snow"
    assert edited.params["negative"] == job.params["negative"]


async def test_delete_after_a_restart_is_for_the_requester_only(bot: BotUnderTest) -> None:
    fake = bot.fake
    job, message = await _delivered(bot)
    await bot.restart()
    carol = fake.create_user("carol")
    fake.add_member(fake.guild, carol)
    refused = await fake.click(f"cc:delete:{job.id}", message, user=carol)
    text = (await private_reply(fake, refused)).content
    assert "Only the member who asked" in text
    assert not fake.message(message.id).deleted
    deleted = await fake.click(f"cc:delete:{job.id}", message)
    await fake.wait_for(lambda: fake.message(message.id).deleted)
    assert "Deleted" in (await private_reply(fake, deleted)).content


async def test_a_moderator_may_delete_someone_elses_result(bot: BotUnderTest) -> None:
    fake = bot.fake
    job, message = await _delivered(bot)
    await bot.restart()
    await fake.click(f"cc:delete:{job.id}", message, user=fake.moderator)
    await fake.wait_for(lambda: fake.message(message.id).deleted)


async def test_reroll_by_someone_else_is_refused_with_an_explanation(bot: BotUnderTest) -> None:
    fake = bot.fake
    job, message = await _delivered(bot)
    carol = fake.create_user("carol")
    fake.add_member(fake.guild, carol)
    refused = await fake.click(f"cc:reroll:{job.id}", message, user=carol)
    assert "Only the member who asked" in (await private_reply(fake, refused)).content
    assert len(await bot.engine.jobs.recent_for_user(carol.id, limit=5)) == 0


async def test_follow_up_upscale_after_a_restart_runs_on_the_result(bot: BotUnderTest, fake_comfy) -> None:
    job, message = await _delivered(bot)
    assert "Upscale" in button_labels(message)
    await bot.restart()
    click = await bot.fake.click(f"cc:act:{job.id}:0", message)
    upscaled, status = await _new_job_from(bot, click, ignore={job.id})
    assert upscaled.template == "upscale"
    assert upscaled.inputs
    assert upscaled.inputs[0].param == "image"
    result = bot.fake.message(status.id)
    assert result.attachments
    assert "/upscale" in embed_text(result)


async def test_cancel_a_queued_job_after_a_restart(make_bot, fake_comfy) -> None:
    await fake_comfy.stop()  # no image server: the job waits in the queue
    bot = await make_bot(wait_backends=False)
    record = await bot.fake.slash("imagine", {"prompt": "patience"})
    message = await status_of(bot.fake, record)
    job_id = job_id_of(message)
    assert "gpu 1 is not answering" in embed_text(message).lower()
    assert "stays queued" in embed_text(message).lower()
    await bot.restart()
    click = await bot.fake.click(f"cc:cancel:{job_id}", message)
    assert "Cancelled" in (await private_reply(bot.fake, click)).content
    await bot.wait_job(job_id, JobState.CANCELLED)
    await bot.fake.wait_for(lambda: "Cancelled" in embed_text(bot.fake.message(message.id)))
    assert not [c for c in bot.fake.message(message.id).custom_ids() if c.startswith("cc:cancel")]
