"""Images attached to slash commands: img2img, inpaint with a mask, and attachments that are refused
with a clear private message while the bot keeps serving."""

from __future__ import annotations

import struct
import zlib

import pytest

from bot.jobmodel.states import JobState
from tests.e2e.harness import BotUnderTest, job_id_of, png, private_reply, status_of


@pytest.fixture
async def bot(make_bot) -> BotUnderTest:
    return await make_bot()


def _bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A tiny file whose header claims a huge picture."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


async def _delivered(bot: BotUnderTest, record):
    message = await status_of(bot.fake, record)
    return await bot.wait_job(job_id_of(message), JobState.DELIVERED), bot.fake.message(message.id)


async def test_img2img_uploads_the_attachment_to_comfyui(bot: BotUnderTest, fake_comfy) -> None:
    record = await bot.fake.slash(
        "img2img", {"prompt": "make it blue"}, attachments=[("in.png", png((96, 64)), "image/png")]
    )
    job, message = await _delivered(bot, record)
    assert [i.param for i in job.inputs] == ["image"]
    assert message.attachments
    graph = fake_comfy.prompt_requests[-1]["prompt"]
    loaded = [n["inputs"]["image"] for n in graph.values() if n["class_type"] == "LoadImage"]
    assert loaded
    assert all((fake_comfy.input_dir / name).exists() for name in loaded)


async def test_inpaint_with_an_image_and_a_mask(bot: BotUnderTest, fake_comfy) -> None:
    mask = png((96, 64), (255, 255, 255))
    record = await bot.fake.slash(
        "inpaint",
        {"prompt": "a window"},
        attachments=[("room.png", png((96, 64)), "image/png"), ("mask.png", mask, "image/png")],
    )
    job, message = await _delivered(bot, record)
    assert sorted(i.param for i in job.inputs) == ["image", "mask"]
    assert message.attachments
    graph = fake_comfy.prompt_requests[-1]["prompt"]
    kinds = {n["class_type"]: n["inputs"] for n in graph.values()}
    assert kinds["LoadImage"]["image"] != kinds["LoadImageMask"]["image"]
    assert (fake_comfy.input_dir / kinds["LoadImageMask"]["image"]).exists()


async def _refused(bot: BotUnderTest, command: str, options: dict, **kwargs) -> str:
    record = await bot.fake.slash(command, options, **kwargs)
    reply = await private_reply(bot.fake, record)
    assert reply.ephemeral
    original = record.original_message
    assert original is None or original.deleted or original.ephemeral, "no public leftovers"
    return reply.content


async def _still_serving(bot: BotUnderTest) -> None:
    record = await bot.fake.slash(
        "img2img", {"prompt": "still here"}, attachments=[("ok.png", png(), "image/png")]
    )
    await _delivered(bot, record)


async def test_a_file_that_is_not_an_image(bot: BotUnderTest) -> None:
    text = await _refused(
        bot, "img2img", {"prompt": "p"}, attachments=[("notes.txt", b"hello", "text/plain")]
    )
    assert "`image` attachment (notes.txt) is not an image" in text
    text = await _refused(
        bot, "img2img", {"prompt": "p"}, attachments=[("fake.png", b"not a png at all", "image/png")]
    )
    assert "fake.png" in text
    assert "not an image I can read" in text
    await _still_serving(bot)


async def test_an_oversized_attachment_is_refused_before_download(bot: BotUnderTest) -> None:
    huge = b"\x89PNG\r\n\x1a\n" + bytes(25 * 2**20)
    downloads = bot.fake.stats.cdn_downloads
    text = await _refused(bot, "img2img", {"prompt": "p"}, attachments=[("huge.png", huge, "image/png")])
    assert "huge.png" in text
    assert "25.0 MiB" in text
    assert "limit is 25 MiB" in text
    assert bot.fake.stats.cdn_downloads == downloads
    await _still_serving(bot)


async def test_an_expired_attachment_link(bot: BotUnderTest) -> None:
    fake = bot.fake
    old = fake.state.add_attachment(fake.channel.id, "yesterday.png", png(), "image/png")
    fake.expire_attachment(old)
    text = await _refused(bot, "img2img", {"prompt": "p", "image": old})
    assert "yesterday.png" in text
    assert "expired" in text
    assert "attach the file again" in text
    await _still_serving(bot)


async def test_a_decompression_bomb_is_refused(bot: BotUnderTest) -> None:
    text = await _refused(
        bot, "img2img", {"prompt": "p"}, attachments=[("bomb.png", _bomb_png(), "image/png")]
    )
    assert "bomb.png" in text
    assert "too many pixels" in text or "30000x30000" in text
    await _still_serving(bot)
