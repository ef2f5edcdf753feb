"""/queue, /jobs, /show, /templates and /help: private, short and useful."""

from __future__ import annotations

import pytest

from bot.jobmodel.states import JobState
from tests.e2e.harness import BotUnderTest, button_labels, embed_text, job_id_of, private_reply, status_of


@pytest.fixture
async def bot(make_bot) -> BotUnderTest:
    return await make_bot()


async def _delivered(bot: BotUnderTest, prompt: str = "a quiet harbour"):
    record = await bot.fake.slash("imagine", {"prompt": prompt, "steps": 3, "seed": 11})
    message = await status_of(bot.fake, record)
    return await bot.wait_job(job_id_of(message), JobState.DELIVERED), message


async def _reply(bot: BotUnderTest, name: str, options: dict | None = None, **kwargs) -> str:
    record = await bot.fake.slash(name, options, **kwargs)
    reply = await private_reply(bot.fake, record)
    assert reply.ephemeral
    return reply.content


async def test_queue_lists_my_waiting_jobs_with_position_and_the_totals(make_bot, fake_comfy) -> None:
    await fake_comfy.stop()
    bot = await make_bot(wait_backends=False)
    ids = []
    for prompt in ("first", "second"):
        record = await bot.fake.slash("imagine", {"prompt": prompt})
        ids.append(job_id_of(await status_of(bot.fake, record)))
    text = await _reply(bot, "queue")
    assert "2 waiting, 0 running on 0 of 1 image server(s)" in text
    assert f"`{ids[0]}` /imagine: position 1" in text
    assert f"`{ids[1]}` /imagine: position 2" in text
    other = await _reply(bot, "queue", user=bot.fake.moderator)
    assert "You have no jobs waiting." in other
    assert ids[0] not in other


async def test_jobs_lists_my_recent_jobs(bot: BotUnderTest) -> None:
    job, _ = await _delivered(bot)
    text = await _reply(bot, "jobs")
    assert f"`{job.id}` /imagine: done on GPU 1 — a quiet harbour" in text
    assert "not run any jobs yet" in await _reply(bot, "jobs", user=bot.fake.moderator)


async def test_show_reposts_a_result_with_working_buttons(bot: BotUnderTest) -> None:
    fake = bot.fake
    job, _ = await _delivered(bot)
    await bot.restart()
    record = await fake.slash("show", {"job": job.id})
    shown = await status_of(fake, record)
    await fake.wait_for(lambda: fake.message(shown.id).attachments)
    shown = fake.message(shown.id)
    assert not shown.ephemeral
    assert f"job {job.id}" in embed_text(shown)
    assert button_labels(shown)[:3] == ["Re-roll", "Edit", "Delete"]
    click = await fake.click(f"cc:reroll:{job.id}", shown)
    again = await status_of(fake, click)
    rerolled = await bot.wait_job(job_id_of(again), JobState.DELIVERED)
    assert rerolled.params["prompt"] == "a quiet harbour"
    assert rerolled.id != job.id


async def test_show_of_an_unknown_or_unfinished_job_explains(make_bot, fake_comfy) -> None:
    await fake_comfy.stop()
    bot = await make_bot(wait_backends=False)
    assert "There is no job `NOPE1234`" in await _reply(bot, "show", {"job": "NOPE1234"})
    record = await bot.fake.slash("imagine", {"prompt": "later"})
    job_id = job_id_of(await status_of(bot.fake, record))
    assert f"Job `{job_id}` has no results to show (queued)" in await _reply(bot, "show", {"job": job_id})


async def test_templates_and_help(bot: BotUnderTest) -> None:
    text = await _reply(bot, "templates")
    for name in ("imagine", "img2img", "inpaint", "upscale", "invert"):
        assert f"**/{name}** (ready)" in text
    assert "options: prompt, negative?" in text
    help_text = await _reply(bot, "help")
    assert "/imagine" in help_text
    assert "Re-roll" in help_text
    assert "/cancel" in help_text


async def test_show_fits_the_images_to_the_channels_upload_limit(make_bot, fake_comfy) -> None:
    fake_comfy.decode_scale = 1  # PNGs of about 2 kB
    bot = await make_bot(attachment_size_limit=1600)
    job, _ = await _delivered(bot)
    record = await bot.fake.slash("show", {"job": job.id})
    shown = await status_of(bot.fake, record)
    await bot.fake.wait_for(lambda: bot.fake.message(shown.id).attachments)
    shown = bot.fake.message(shown.id)
    assert all(a.size <= 1600 for a in shown.attachments)
    assert "re-encoded" in embed_text(shown)
