"""Results of every kind through the whole bot (fake Discord, fake ComfyUI): an animated WebP, an MP4
over the upload limit re-encoded to fit (or its first frame when it cannot fit), texts, sound, a batch
as one gallery whose per-image buttons (a follow-up on image N, Vary N) work after a restart."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image

from bot.jobmodel.states import JobState
from bot.moderation import ScreeningResult
from bot.templates import PICK_KEY
from tests.e2e.harness import (
    BotUnderTest,
    embed_text,
    gallery_of,
    job_id_of,
    png,
    private_reply,
    status_of,
    workflows_copy,
)
from tests.e2e.moderation_support import set_setting

V2 = 1 << 15


def _latent(
    frames: str = "Frames", previews: bool = True, side: int = 512, delay: float = 0.0
) -> dict[str, Any]:
    """SlowSteps draws its images at 1/8 of the latent's size and sleeps ``delay * time_scale`` a step."""
    return {
        "1": {
            "class_type": "EmptyLatentImage",
            "inputs": {"width": side, "height": side, "batch_size": 8},
            "_meta": {"title": frames},
        },
        "2": {
            "class_type": "SlowSteps",
            "inputs": {"samples": ["1", 0], "steps": 6, "delay": delay, "seed": 1, "send_previews": previews},
            "_meta": {"title": "Sampler"},
        },
    }


EXTRA: dict[str, tuple[dict[str, Any], str]] = {
    "clip": (
        {
            **_latent(side=2048, delay=0.25),
            "3": {"class_type": "CreateVideo", "inputs": {"images": ["2", 1], "fps": 8.0}},
            "4": {
                "class_type": "SaveVideo",
                "inputs": {
                    "video": ["3", 0],
                    "filename_prefix": "video/clip",
                    "format": "mp4",
                    "codec": "h264",
                },
                "_meta": {"title": "Save Video"},
            },
        },
        """
        [command]
        name = "clip"
        description = "A short video (test)"
        [params.seed]
        type = "seed"
        target = "Sampler.seed"
        [params.frames]
        type = "int"
        default = 8
        min = 2
        max = 32
        target = "Frames.batch_size"
        [outputs]
        nodes = ["Save Video"]
        """,
    ),
    "echo": (
        {
            "1": {"class_type": "PrimitiveString", "inputs": {"value": "hello"}, "_meta": {"title": "Words"}},
            "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}, "_meta": {"title": "Show"}},
        },
        """
        [command]
        name = "echo"
        description = "Say it back (a text result, test)"
        [params.text]
        type = "text"
        required = true
        max_length = 6000
        target = "Words.value"
        """,
    ),
    "caption": (
        {
            **_latent(previews=False),
            "3": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["2", 1]}},
            "4": {"class_type": "GetImageSize", "inputs": {"image": ["2", 1]}},
            "5": {"class_type": "PreviewAny", "inputs": {"source": ["4", 0]}, "_meta": {"title": "Width"}},
        },
        """
        [command]
        name = "caption"
        description = "An image and a text (test)"
        [params.seed]
        type = "seed"
        target = "Sampler.seed"
        [params.frames]
        type = "int"
        default = 1
        min = 1
        max = 1
        target = "Frames.batch_size"
        """,
    ),
    "tone": (
        {
            "1": {"class_type": "TestTone", "inputs": {"seconds": 0.5, "frequency": 440.0}},
            "2": {"class_type": "SaveAudio", "inputs": {"audio": ["1", 0], "filename_prefix": "audio/tone"}},
        },
        """
        [command]
        name = "tone"
        description = "A sound (test)"
        """,
    ),
    "nothing": (
        {
            **_latent(previews=False),
            "3": {
                "class_type": "SaveLatent",
                "inputs": {"samples": ["2", 0], "filename_prefix": "latents/x"},
                "_meta": {"title": "Save Latent"},
            },
            "4": {"class_type": "PrimitiveString", "inputs": {"value": "   "}},
            "5": {"class_type": "PreviewAny", "inputs": {"source": ["4", 0]}, "_meta": {"title": "Show"}},
        },
        """
        [command]
        name = "nothing"
        description = "Writes a latent and an empty text (test)"
        [outputs]
        nodes = ["Save Latent", "Show"]
        """,
    ),
}


def _workflows(tmp_path: Path) -> Path:
    folder = workflows_copy(tmp_path / "workflows")
    for stem, (graph, manifest) in EXTRA.items():
        (folder / f"{stem}.json").write_text(json.dumps(graph))
        (folder / f"{stem}.toml").write_text("\n".join(line.strip() for line in manifest.splitlines()))
    return folder


async def _rich_bot(make_bot, tmp_path: Path, **options: Any) -> BotUnderTest:
    return await make_bot(env={"WORKFLOWS_DIR": str(_workflows(tmp_path))}, **options)


async def _delivered(
    bot: BotUnderTest, command: str, options: dict[str, Any], **kwargs: Any
) -> tuple[Any, Any]:
    record = await bot.fake.slash(command, options, **kwargs)
    message = await status_of(bot.fake, record)
    job = await bot.wait_job(job_id_of(message), JobState.DELIVERED, timeout=30)
    return job, bot.fake.message(message.id)


def _frames(data: bytes) -> tuple[str, int, tuple[int, int]]:
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        return (
            stream.codec_context.name,
            sum(1 for _ in container.decode(stream)),
            (stream.width, stream.height),
        )


def _pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").tobytes()


# --- animations and videos ------------------------------------------------------------------------------


async def test_the_bundled_pulse_delivers_an_animated_webp(make_bot) -> None:
    bot = await make_bot()
    job, final = await _delivered(
        bot, "pulse", {"fps": 4}, attachments=[("me.png", png((40, 30)), "image/png")]
    )
    [attachment] = final.attachments
    assert attachment.filename.endswith(".webp")
    with Image.open(io.BytesIO(attachment.data)) as animation:
        assert (animation.n_frames, animation.size) == (6, (40, 30))
        animation.seek(1)
        animation.load()
        assert animation.info["duration"] == 250  # 4 fps, as asked
    [output] = await bot.engine.outputs.list_for_job(job.id)
    assert (output.kind.value, output.mime) == ("animation", "image/webp")
    assert "/pulse" in embed_text(final)


async def test_an_mp4_over_the_upload_limit_is_re_encoded_to_fit(
    make_bot, fake_comfy, tmp_path: Path
) -> None:
    fake_comfy.video_crf = 0  # lossless: about twice the limit below
    fake_comfy.time_scale = 0.02
    limit = 10_000
    bot = await _rich_bot(make_bot, tmp_path, attachment_size_limit=limit)
    job, final = await _delivered(bot, "clip", {"seed": 3, "frames": 16})
    [original] = await bot.engine.outputs.list_for_job(job.id)
    assert original.path.stat().st_size > limit, "the server's file was over the limit"
    [attachment] = final.attachments
    assert attachment.filename.endswith(".mp4")
    assert attachment.size <= limit
    assert _frames(attachment.data) == ("h264", 16, (256, 256))  # PyAV decodes every frame
    assert "video re-encoded" in embed_text(final)
    assert [r for r in bot.fake.requests if r.error_code == 40005] == []


async def test_a_video_that_cannot_fit_becomes_its_first_frame_and_a_note(
    make_bot, fake_comfy, tmp_path: Path
) -> None:
    fake_comfy.video_crf = 0
    fake_comfy.time_scale = 0.02
    bot = await _rich_bot(make_bot, tmp_path, attachment_size_limit=1500)
    job, final = await _delivered(bot, "clip", {"seed": 3, "frames": 16})
    [attachment] = final.attachments
    assert attachment.filename.endswith((".png", ".webp", ".jpg"))
    assert attachment.size <= 1500
    Image.open(io.BytesIO(attachment.data)).verify()
    assert "first frame" in embed_text(final)
    assert job.state is JobState.DELIVERED, "never a failed job"


async def test_previews_keep_coming_while_a_video_job_samples(make_bot, fake_comfy, tmp_path: Path) -> None:
    fake_comfy.time_scale = 1.0  # six sampler steps of 0.25 s: status edits (every 0.5 s) show them
    bot = await _rich_bot(make_bot, tmp_path)
    record = await bot.fake.slash("clip", {"seed": 5, "frames": 4})
    message = await status_of(bot.fake, record)
    job_id = job_id_of(message)

    def showed_a_preview() -> bool:
        current = bot.fake.message(message.id)
        snapshots = [*current.history, {"attachments": current.attachment_names}]
        return any("preview.jpg" in s["attachments"] for s in snapshots)

    await bot.fake.wait_for(showed_a_preview, timeout=20)
    await bot.wait_job(job_id, JobState.DELIVERED, timeout=30)
    assert bot.fake.message(message.id).attachment_names[0].endswith(".mp4")


# --- text, sound, mixed ---------------------------------------------------------------------------------


async def test_a_text_output_is_posted_as_text(make_bot, tmp_path: Path) -> None:
    bot = await _rich_bot(make_bot, tmp_path)
    job, final = await _delivered(bot, "echo", {"text": "the cat sat on the mat"})
    assert final.attachments == []
    assert "Output: ```\nthe cat sat on the mat\n```" in embed_text(final)
    [output] = await bot.engine.outputs.list_for_job(job.id)
    assert (output.kind.value, output.mime, output.path.suffix) == ("text", "text/plain", ".txt")


async def test_a_long_text_is_cut_in_the_message_and_attached_in_full(make_bot, tmp_path: Path) -> None:
    bot = await _rich_bot(make_bot, tmp_path)
    words = " ".join(f"word{i}" for i in range(900))  # about 7,000 characters
    _, final = await _delivered(bot, "echo", {"text": words[:5900]})
    [attachment] = final.attachments
    assert attachment.filename.endswith("_text.txt")
    assert attachment.data.decode() == words[:5900]
    shown = embed_text(final)
    assert "word0 word1" in shown
    assert "…" in shown
    assert words[:5900] not in shown


async def test_an_image_and_a_text_come_in_one_result(make_bot, tmp_path: Path) -> None:
    bot = await _rich_bot(make_bot, tmp_path)
    job, final = await _delivered(bot, "caption", {"seed": 11})
    [attachment] = final.attachments
    assert attachment.filename.endswith(".png")
    assert "Output: ```\n64\n```" in embed_text(final)  # SlowSteps' image is 1/8 of the 512 latent
    kinds = [o.kind.value for o in await bot.engine.outputs.list_for_job(job.id)]
    assert kinds == ["image", "text"]


async def test_a_sound_is_posted_as_its_file(make_bot, tmp_path: Path) -> None:
    bot = await _rich_bot(make_bot, tmp_path)
    _, final = await _delivered(bot, "tone", {})
    [attachment] = final.attachments
    assert attachment.filename.endswith(".flac")
    assert attachment.data[:4] == b"fLaC"


async def test_a_run_that_leaves_nothing_postable_fails_once_with_the_reason(
    make_bot, tmp_path: Path
) -> None:
    bot = await _rich_bot(make_bot, tmp_path)
    record = await bot.fake.slash("nothing", {})
    message = await status_of(bot.fake, record)
    job = await bot.wait_job(job_id_of(message), JobState.FAILED, timeout=30)
    assert job.attempts == 1, "nothing to post is not retried"
    assert "produced nothing I can post" in (job.failure_reason or "")
    assert "x_00001_.latent" in (job.failure_reason or "")
    shown = await bot.fake.wait_for(lambda: "nothing I can post" in embed_text(bot.fake.message(message.id)))
    assert shown


# --- batches as a gallery -------------------------------------------------------------------------------


async def _batch(bot: BotUnderTest) -> tuple[Any, Any]:
    return await _delivered(bot, "imagine", {"prompt": "four ducks", "batch": 4, "seed": 21, "steps": 2})


async def test_a_batch_is_one_gallery_with_buttons_for_each_image(make_bot) -> None:
    bot = await make_bot()
    job, final = await _batch(bot)
    assert final.flags & V2
    assert final.embeds == []
    items = gallery_of(final)
    assert len(items) == 4
    assert [i["media"]["url"] for i in items] == [f"attachment://{n}" for n in final.attachment_names]
    assert [i["spoiler"] for i in items] == [False] * 4
    text = embed_text(final)
    assert "### /imagine" in text
    assert "four ducks" in text
    assert f"-# job {job.id} · /imagine" in text
    ids = final.custom_ids()
    assert ids[:3] == [f"cc:reroll:{job.id}", f"cc:edit:{job.id}", f"cc:delete:{job.id}"]
    assert [i for i in ids if i.startswith("cc:pick:")] == [f"cc:pick:{job.id}:0:{n}" for n in range(4)]
    assert [i for i in ids if i.startswith("cc:vary:")] == [f"cc:vary:{job.id}:{n}" for n in range(4)]
    labels = [c.get("label") for c in final.iter_components() if c.get("type") == 2]
    assert "Upscale 3" in labels
    assert "Vary 4" in labels


async def test_vary_after_a_restart_makes_that_image_again_on_its_own(make_bot) -> None:
    bot = await make_bot()
    job, final = await _batch(bot)
    third = _pixels(final.attachments[2].data)
    await bot.restart()
    click = await bot.fake.click(f"cc:vary:{job.id}:2", final)
    message = await status_of(bot.fake, click)
    varied = await bot.wait_job(job_id_of(message), JobState.DELIVERED, timeout=30)
    assert varied.id != job.id
    assert varied.params["batch"] == 1
    assert varied.params["seed"] == job.params["seed"]
    assert varied.params[PICK_KEY] == 2
    result = bot.fake.message(message.id)
    [attachment] = result.attachments
    assert _pixels(attachment.data) == third, "Vary 3 is exactly the third image, alone"
    assert not result.flags & V2, "a single image is a classic result"


async def test_a_follow_up_on_image_n_after_a_restart_takes_that_image(make_bot) -> None:
    bot = await make_bot()
    job, final = await _batch(bot)
    await bot.restart()
    click = await bot.fake.click(f"cc:pick:{job.id}:0:1", final)
    message = await status_of(bot.fake, click)
    upscaled = await bot.wait_job(job_id_of(message), JobState.DELIVERED, timeout=30)
    assert upscaled.template == "upscale"
    [given] = upscaled.inputs
    outputs = await bot.engine.outputs.list_for_job(job.id)
    assert given.path.read_bytes() == outputs[1].path.read_bytes(), "the second image went in"


async def test_someone_else_cannot_vary_or_follow_up_a_members_images(make_bot) -> None:
    bot = await make_bot()
    job, final = await _batch(bot)
    stranger = bot.fake.create_user("mallory")
    bot.fake.add_member(bot.fake.guild, stranger)
    for custom_id in (f"cc:vary:{job.id}:0", f"cc:pick:{job.id}:0:0"):
        click = await bot.fake.click(custom_id, final, user=stranger)
        reply = await private_reply(bot.fake, click)
        assert "Only the member who asked for this image" in reply.content
    jobs = await bot.engine.jobs.list_for_guild(int(bot.fake.guild.id), states=tuple(JobState), limit=50)
    assert [j.id for j in jobs] == [job.id], "no job was started"


class CountingScreener:
    """Flags the images it is shown at the given call numbers (1-based), in the order it sees them."""

    name = "counting"

    def __init__(self, flagged: set[int]) -> None:
        self.flagged = flagged
        self.calls = 0

    def classify(self, image: bytes) -> ScreeningResult:
        self.calls += 1
        nsfw = self.calls in self.flagged
        return ScreeningResult(
            nsfw=nsfw, score=0.9 if nsfw else 0.1, labels=("BUTTOCKS_EXPOSED",) if nsfw else ()
        )


async def test_screening_spoilers_only_the_flagged_images_of_a_gallery(
    make_bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    screener = CountingScreener({2})
    monkeypatch.setattr("bot.app.load_screener", lambda: (screener, "output screening is on (counting)"))
    bot = await make_bot(policy={"nsfw_output_action": "spoiler"})
    _, final = await _batch(bot)
    assert screener.calls == 4
    assert [i["spoiler"] for i in gallery_of(final)] == [False, True, False, False]
    names = final.attachment_names
    assert [n.startswith("SPOILER_") for n in names] == [False, True, False, False]


async def test_show_posts_a_batch_again_as_its_gallery(make_bot) -> None:
    bot = await make_bot()
    job, _ = await _batch(bot)
    record = await bot.fake.slash("show", {"job": job.id})
    await record

    def shown() -> Any:
        message = record.original_message
        return message if message is not None and gallery_of(message) else None

    message = await bot.fake.wait_for(shown)
    assert message.flags & V2
    assert len(gallery_of(message)) == 4
    assert f"cc:vary:{job.id}:3" in message.custom_ids()


async def test_held_clip_goes_to_the_moderators_fitted_and_released_as_a_video(
    make_bot, fake_comfy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Output holds work on videos: the checker sees its frames, the moderators get it (fitted to
    their channel, spoilered), and Release posts it to the member like any result."""
    screener = CountingScreener({2})  # the middle frame of three
    monkeypatch.setattr("bot.app.load_screener", lambda: (screener, "output screening is on (counting)"))
    fake_comfy.time_scale = 0.02
    bot = await _rich_bot(make_bot, tmp_path, policy={"nsfw_output_action": "review"})
    fake = bot.fake
    await set_setting(fake, "review_channel", fake.mod_channel.mention)
    record = await fake.slash("clip", {"seed": 9, "frames": 8})
    message = await status_of(fake, record)
    job_id = job_id_of(message)
    await bot.wait_job(job_id, JobState.HELD, timeout=30)
    assert screener.calls == 3, "start, middle and end of the clip were checked"

    def held() -> Any:
        for candidate in fake.channel_messages(fake.mod_channel):
            if candidate.attachments and f"job {job_id}" in embed_text(candidate):
                return candidate
        return None

    review = await fake.wait_for(held)
    [attachment] = review.attachments
    assert attachment.filename.startswith("SPOILER_")
    assert attachment.filename.endswith(".mp4")
    click = await fake.click(f"cc:out:release:{job_id}", review, user=fake.moderator)
    await click
    await bot.wait_job(job_id, JobState.DELIVERED, timeout=30)
    final = fake.message(message.id)
    assert final.attachment_names[0].endswith(".mp4")


async def test_a_batch_finished_after_a_restart_becomes_a_gallery_through_the_channel(
    make_bot, fake_comfy
) -> None:
    """No interaction token after a restart: the status message is edited through the channel into a
    components-v2 gallery (Discord lets an edit set the flag when it resets content and embeds)."""
    fake_comfy.step_delay = 0.05
    bot = await make_bot(edit_rate=(5, 1.0))
    record = await bot.fake.slash("imagine", {"prompt": "three owls", "batch": 3, "seed": 4, "steps": 10})
    message = await status_of(bot.fake, record)
    job_id = job_id_of(message)
    await bot.wait_job(job_id, JobState.RUNNING)
    await bot.restart()
    await bot.wait_job(job_id, JobState.DELIVERED, timeout=30)
    final = bot.fake.message(message.id)
    assert final.flags & V2
    assert len(gallery_of(final)) == 3
    assert final.embeds == []
    patches = bot.fake.calls("PATCH", f"/channels/*/messages/{message.id}")
    assert any(p.json and p.json.get("flags", 0) & V2 for p in patches), (
        "the gallery came through the channel"
    )


async def test_a_prompt_with_mentions_in_a_gallery_pings_nobody(make_bot) -> None:
    """Text displays, unlike embeds, ping the mentions they hold: a prompt's "@everyone" must not."""
    bot = await make_bot()
    prompt = f"@everyone <@{bot.fake.moderator.id}> <@&{bot.fake.moderator_role.id}> ducks"
    _, final = await _delivered(bot, "imagine", {"prompt": prompt, "batch": 2, "seed": 1, "steps": 2})
    assert prompt in embed_text(final)
    edits = [
        c
        for c in bot.fake.requests
        if c.method == "PATCH" and isinstance(c.json, dict) and c.json.get("flags", 0) & V2
    ]
    assert edits
    assert all(c.json.get("allowed_mentions") == {"parse": []} for c in edits)
