"""From slash command to posted images, through the real discord.py, both fakes and real SQLite."""

from __future__ import annotations

import io

from PIL import Image

from bot.jobmodel.states import JobState
from tests.e2e.harness import BotUnderTest, job_id_of, status_of


def _png(size=(64, 48), colour=(10, 200, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


async def test_startup_syncs_one_command_per_template(bot: BotUnderTest) -> None:
    fake = bot.fake
    names = {c["name"] for c in fake.global_commands}
    assert {"imagine", "img2img", "inpaint", "upscale", "invert"} <= names
    assert {"queue", "cancel", "jobs", "show", "templates", "help"} <= names
    imagine = next(c for c in fake.global_commands if c["name"] == "imagine")
    options = {o["name"]: o for o in imagine["options"]}
    assert options["prompt"]["required"] is True
    assert options["prompt"]["type"] == 3
    assert options["steps"]["type"] == 4
    assert "min_value" in options["steps"]
    assert [c["name"] for c in options["size"]["choices"]] == ["square", "portrait", "landscape"]
    assert all(c["description"] for c in fake.global_commands)


async def test_second_start_does_not_sync_an_unchanged_command_set(bot: BotUnderTest) -> None:
    syncs = len(bot.fake.calls("PUT", "/applications/*/commands"))
    app = await bot.restart()
    assert app.bot is not None
    assert app.bot.synced == "unchanged"
    assert len(bot.fake.calls("PUT", "/applications/*/commands")) == syncs


async def test_text_to_image_from_command_to_posted_images(bot: BotUnderTest) -> None:
    fake = bot.fake
    record = await fake.slash("imagine", {"prompt": "a red fox in snow", "seed": 7})
    message = await status_of(fake, record)
    assert record.ack_latency < 3.0
    job_id = job_id_of(message)
    job = await bot.wait_job(job_id, JobState.DELIVERED)
    assert job.params["prompt"] == "a red fox in snow"
    final = fake.message(message.id)
    assert final.attachments, "the images are attached to the status message"
    assert final.attachments[0].filename.endswith(".png")
    labels = [c.get("label") for row in final.components for c in row["components"]]
    assert labels[:3] == ["Re-roll", "Edit", "Delete"]
    assert "Upscale" in labels
    embed = final.embeds[0]
    assert embed["description"] == "a red fox in snow"
    assert any(f["name"] == "Seed" and f["value"] == "7" for f in embed["fields"])


async def test_invalid_value_is_a_private_message_naming_the_parameter(bot: BotUnderTest) -> None:
    fake = bot.fake
    bad = await fake.slash("img2img", {"prompt": "p"}, attachments=[("notes.txt", b"hello", "text/plain")])
    await bad
    text = await fake.wait_for(lambda: bad.followups and bad.followups[-1].content)
    assert "not an image" in text
    assert bad.followups[-1].ephemeral


async def test_img2img_with_an_attachment(bot: BotUnderTest, fake_comfy) -> None:
    fake = bot.fake
    record = await fake.slash(
        "img2img", {"prompt": "make it blue"}, attachments=[("in.png", _png(), "image/png")]
    )
    message = await status_of(fake, record)
    job = await bot.wait_job(job_id_of(message), JobState.DELIVERED)
    assert job.inputs
    assert job.inputs[0].param == "image"
    uploaded = list(fake_comfy.input_dir.rglob("*.png"))
    assert uploaded, "the attachment was uploaded to ComfyUI"
