"""The whole bot (App, real discord.py, fake Discord) against real servers: every bundled template, the
results' sizes and known pixels, batch counts, the Upscale button, several servers sharing the work."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.harness import BotUnderTest, embed_text
from tests.real.servers import RealServer
from tests.real.support import command, decode, delivered, half_mask, inverted, pattern

INPUT = (68, 52)
CROPPED = (64, 48)  # the VAE works on multiples of 8


@pytest.fixture
async def bot(real_bot) -> BotUnderTest:
    return await real_bot()


async def _results(bot: BotUnderTest, message, job_id: str):
    job = await delivered(bot, job_id)
    final = bot.fake.message(message.id)
    return job, final, [decode(a.data) for a in final.attachments]


CASES = {
    "imagine": ({"prompt": "a red kite", "size": "tiny", "steps": 2}, {}, [(64, 64)]),
    "img2img": ({"prompt": "a blue kite", "steps": 2}, {"image": pattern(INPUT)}, [CROPPED]),
    "inpaint": (
        {"prompt": "a green kite", "steps": 2},
        {"image": pattern(INPUT), "mask": half_mask(INPUT)},
        [CROPPED],
    ),
    "upscale": ({}, {"image": pattern(INPUT)}, [(INPUT[0] * 4, INPUT[1] * 4)]),
    "invert": ({}, {"image": pattern(INPUT)}, [INPUT]),
}


@pytest.mark.parametrize("template", list(CASES))
async def test_every_bundled_template_delivers_through_discord(
    template: str, bot: BotUnderTest, by_name
) -> None:
    options, files, sizes = CASES[template]
    message, job_id = await command(bot, template, options, files=files)
    job, final, images = await _results(bot, message, job_id)
    assert [i.size for i in images] == sizes
    assert f"/{template}" in embed_text(final)
    assert "Ran on: " in embed_text(final)
    if template == "invert":
        assert images[0].convert("RGB").tobytes() == inverted(pattern(INPUT)).tobytes()
    (entry,) = await by_name(job.backend).history_of_job(job.id)
    assert entry.succeeded
    assert entry.prompt_id == job.prompt_id


async def test_a_batch_delivers_every_image(bot: BotUnderTest) -> None:
    message, job_id = await command(
        bot, "imagine", {"prompt": "three moons", "size": "tiny", "steps": 2, "batch": 3}
    )
    _, final, images = await _results(bot, message, job_id)
    assert [i.size for i in images] == [(64, 64)] * 3
    assert len({i.tobytes() for i in images}) == 3, "three different images, not one thrice"
    assert "Images: 3" in embed_text(final)


async def test_a_mask_reaches_comfyui_pixel_for_pixel(bot: BotUnderTest) -> None:
    """What the member drew is what LoadImageMask reads: white 1.0 (repaint), black 0.0."""
    mask = half_mask(INPUT)
    message, job_id = await command(bot, "maskview", {}, files={"mask": mask})
    _, _, (image,) = await _results(bot, message, job_id)
    assert image.size == INPUT
    assert image.convert("L").tobytes() == mask.convert("L").tobytes()


async def test_the_upscale_button_runs_upscale_on_the_result(bot: BotUnderTest) -> None:
    message, job_id = await command(bot, "imagine", {"prompt": "a tiny harbour", "size": "tiny", "steps": 2})
    await delivered(bot, job_id)
    final = bot.fake.message(message.id)
    (button,) = [c for c in final.custom_ids() if c.startswith(f"cc:act:{job_id}:")]
    click = await bot.fake.click(button, final)
    await click

    def upscaled():
        for candidate in bot.fake.channel_messages():
            if "/upscale" in embed_text(candidate) and candidate.attachments:
                return candidate
        return None

    result = await bot.fake.wait_for(upscaled, timeout=240)
    (image,) = [decode(a.data) for a in result.attachments]
    assert image.size == (256, 256)


async def test_jobs_spread_over_every_real_server(real_bot, servers: list[RealServer], by_name) -> None:
    if len(servers) < 2:
        pytest.skip("needs two or more servers in COMFYUI_REAL_URLS")
    bot = await real_bot()
    started = [
        await command(bot, "imagine", {"prompt": f"kite {n}", "size": "tiny", "steps": 2})
        for n in range(2 * len(servers))
    ]
    jobs = await asyncio.gather(*(delivered(bot, job_id, timeout=400) for _, job_id in started))
    used = {job.backend for job in jobs}
    assert used == {s.name for s in servers}, "every server got work"
    for job in jobs:
        (entry,) = await by_name(job.backend).history_of_job(job.id)
        assert entry.succeeded
