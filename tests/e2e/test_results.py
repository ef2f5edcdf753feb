"""Delivery of the final images: per-file size limits and more than ten images per job."""

from __future__ import annotations

import io

from PIL import Image

from bot.jobmodel.states import JobState
from tests.e2e.harness import embed_text, gallery_of, job_id_of, status_of, workflows_copy


async def _deliver(bot, options):
    record = await bot.fake.slash("imagine", options)
    message = await status_of(bot.fake, record)
    job = await bot.wait_job(job_id_of(message), JobState.DELIVERED)
    return bot.fake.message(message.id), job


async def test_a_result_over_the_upload_limit_is_re_encoded_and_says_so(make_bot, fake_comfy) -> None:
    fake_comfy.decode_scale = 1  # 512x512 PNGs of about 2 kB; WebP makes them about 1.4 kB
    bot = await make_bot(attachment_size_limit=1600)
    final, _ = await _deliver(bot, {"prompt": "a big sky", "seed": 5})
    assert final.attachments
    assert all(a.size <= 1600 for a in final.attachments)
    assert final.attachments[0].filename.endswith((".webp", ".jpg"))
    assert "re-encoded" in embed_text(final)
    refused = [r for r in bot.fake.requests if r.error_code == 40005]
    assert refused == [], "the limit came from the interaction, so nothing was refused"


async def test_a_result_far_over_the_limit_is_downscaled_and_says_so(make_bot, fake_comfy) -> None:
    fake_comfy.decode_scale = 1
    bot = await make_bot(attachment_size_limit=1000)
    final, _ = await _deliver(bot, {"prompt": "a big sea", "seed": 5})
    attachment = final.attachments[0]
    assert attachment.size <= 1000
    with Image.open(io.BytesIO(attachment.data)) as image:
        assert image.width < 512
    assert "downscaled" in embed_text(final)


async def test_a_limit_learned_only_from_a_refusal_still_delivers(make_bot, fake_comfy) -> None:
    """After a restart the bot has seen no interaction in the channel and assumes the guild's limit;
    Discord's 40005 makes it shrink the files and try again. (A fast edit bucket: discord.py sleeps
    out an exhausted bucket inside the request that emptied it, which would only slow the test.)"""
    fake_comfy.step_delay = 0.05
    fake_comfy.decode_scale = 1
    bot = await make_bot(attachment_size_limit=1600, edit_rate=(5, 1.0))
    record = await bot.fake.slash("imagine", {"prompt": "a wide field", "steps": 10, "seed": 5})
    message = await status_of(bot.fake, record)
    job_id = job_id_of(message)
    await bot.wait_job(job_id, JobState.RUNNING)
    await bot.restart()
    await bot.wait_job(job_id, JobState.DELIVERED)
    final = bot.fake.message(message.id)
    assert final.attachments
    assert all(a.size <= 1600 for a in final.attachments)
    assert "re-encoded" in embed_text(final) or "downscaled" in embed_text(final)
    assert {r.error_code for r in bot.fake.requests if r.status == 413} == {40005}, "taught by a refusal"


def _batch_up_to_16(name: str, text: str) -> str:
    if name == "imagine.toml":
        return text.replace("default = 1\nmin = 1\nmax = 4", "default = 1\nmin = 1\nmax = 16")
    return text


async def test_more_than_ten_images_are_split_over_follow_up_messages(make_bot, tmp_path) -> None:
    workflows = workflows_copy(tmp_path / "workflows", _batch_up_to_16)
    bot = await make_bot(env={"WORKFLOWS_DIR": str(workflows)})
    final, job = await _deliver(bot, {"prompt": "a dozen ducks", "batch": 12, "seed": 9})
    assert len(final.attachments) == 10
    rest = [m for m in bot.fake.channel_messages() if m.id != final.id and m.attachments]
    assert len(rest) == 1
    assert len(rest[0].attachments) == 2
    assert job.id in rest[0].content
    names = final.attachment_names + rest[0].attachment_names
    assert len(set(names)) == 12
    assert "**Images** 12" in embed_text(final)  # the batch came as a gallery (components v2)
    assert len(gallery_of(final)) == 10
