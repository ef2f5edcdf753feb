"""Fitting results under an upload limit: what changes, in which order, and the fallbacks."""

from __future__ import annotations

import io
import math
import random
import time
from collections.abc import Iterator

import av
import pytest
from PIL import Image

from bot.media import OutputKind
from bot.media.fit import fit_media
from bot.media.fitter import MediaFitter
from bot.media.video import MIN_BITS_PER_PIXEL, CannotFit, Clip, plan, probe
from tests.fakes.comfyui.nodes.media import encode_audio, encode_video

FAR = 10_000.0


def _noisy(count: int, size: tuple[int, int] = (160, 96), seed: int = 1) -> list[Image.Image]:
    rng = random.Random(seed)
    return [Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3)) for _ in range(count)]


def _decoded(data: bytes) -> tuple[str, int, tuple[int, int], bool]:
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.codec_context.name, frames, (stream.width, stream.height), bool(container.streams.audio)


@pytest.fixture(scope="module")
def noisy_mp4() -> bytes:
    return encode_video(_noisy(24), 12.0, "mp4", "libx264", crf=0)


def test_a_file_within_the_limit_is_left_alone(noisy_mp4: bytes) -> None:
    fitted = fit_media(noisy_mp4, "a.mp4", OutputKind.VIDEO, "video/mp4", len(noisy_mp4), deadline=0.0)
    assert fitted.data is noisy_mp4
    assert fitted.note is None


def test_a_video_over_the_limit_is_re_encoded_to_fit_and_still_plays(noisy_mp4: bytes) -> None:
    limit = len(noisy_mp4) // 4
    fitted = fit_media(
        noisy_mp4, "clip.mp4", OutputKind.VIDEO, "video/mp4", limit, deadline=time.monotonic() + FAR
    )
    assert len(fitted.data) <= limit
    assert (fitted.kind, fitted.mime, fitted.filename) == (OutputKind.VIDEO, "video/mp4", "clip.mp4")
    codec, frames, size, _ = _decoded(fitted.data)
    assert (codec, frames, size) == ("h264", 24, (160, 96))  # only the bitrate had to change
    assert (fitted.note or "").startswith("video re-encoded (")


def test_the_ladder_lowers_the_bitrate_then_the_size_then_the_frame_rate() -> None:
    clip = Clip(1280, 720, 30.0, 10.0, False)
    roomy = plan(clip, 2 * 1024 * 1024)
    assert roomy[:2] == (1280, 720)  # a lower bitrate is enough
    assert roomy[3] == 30.0
    tight = plan(clip, 1024 * 1024)
    assert tight[:2] == (960, 540)  # then a smaller picture...
    assert tight[3] == 30.0  # ...before a choppier one
    tightest = plan(clip, 40 * 1024)
    assert min(tightest[:2]) >= 144
    assert tightest[3] == 7.5
    for width, height, bitrate, fps in (roomy, tight, tightest):
        assert bitrate / (width * height * fps) >= MIN_BITS_PER_PIXEL
    with pytest.raises(CannotFit):
        plan(clip, 4 * 1024)


def test_sound_is_kept(noisy_mp4: bytes) -> None:
    tone = {"samples": [0.3 * math.sin(i / 5) for i in range(16000 * 2)], "sample_rate": 16000}
    with_sound = encode_video(_noisy(24), 12.0, "mp4", "libx264", crf=0, audio=tone)
    limit = len(with_sound) // 3
    fitted = fit_media(
        with_sound, "s.mp4", OutputKind.VIDEO, "video/mp4", limit, deadline=time.monotonic() + FAR
    )
    assert len(fitted.data) <= limit
    assert _decoded(fitted.data)[3], "the soundtrack survived"


def test_what_cannot_fit_becomes_its_first_frame_with_a_note(noisy_mp4: bytes) -> None:
    fitted = fit_media(
        noisy_mp4, "clip.mp4", OutputKind.VIDEO, "video/mp4", 3000, deadline=time.monotonic() + FAR
    )
    assert fitted.kind is OutputKind.IMAGE
    assert len(fitted.data) <= 3000
    with Image.open(io.BytesIO(fitted.data)) as still:
        assert still.width <= 160
    assert "could not be shrunk enough" in (fitted.note or "")
    assert "first frame" in (fitted.note or "")


def test_the_time_limit_holds_and_leaves_a_still_frame(noisy_mp4: bytes) -> None:
    ticks: Iterator[float] = iter([0.0, 0.0, 0.0] + [100.0] * 1000)
    fitted = fit_media(
        noisy_mp4,
        "clip.mp4",
        OutputKind.VIDEO,
        "video/mp4",
        len(noisy_mp4) // 4,
        deadline=1.0,
        clock=lambda: next(ticks),
    )
    assert fitted.kind is OutputKind.IMAGE
    assert "could not be shrunk in time" in (fitted.note or "")


def test_an_animation_first_stays_an_animation_then_becomes_an_mp4() -> None:
    frames = _noisy(8, (128, 128))
    out = io.BytesIO()
    frames[0].save(out, format="PNG", save_all=True, append_images=frames[1:], duration=125)
    apng = out.getvalue()
    loose = fit_media(
        apng, "a.png", OutputKind.ANIMATION, "image/png", len(apng) // 2, deadline=time.monotonic() + FAR
    )
    assert (loose.kind, loose.mime, loose.filename) == (OutputKind.ANIMATION, "image/webp", "a.webp")
    with Image.open(io.BytesIO(loose.data)) as webp:
        assert webp.n_frames == 8
    tight = fit_media(
        apng, "a.png", OutputKind.ANIMATION, "image/png", 20_000, deadline=time.monotonic() + FAR
    )
    assert (tight.kind, tight.mime, tight.filename) == (OutputKind.VIDEO, "video/mp4", "a.mp4")
    assert len(tight.data) <= 20_000
    assert _decoded(tight.data)[1] >= 4
    assert "converted to MP4" in (tight.note or "")
    assert probe(apng).fps == pytest.approx(8.0)


def test_audio_is_re_encoded_as_opus_or_left_out_with_a_note() -> None:
    rng = random.Random(3)
    noise = {"samples": [rng.uniform(-0.5, 0.5) for _ in range(16000 * 3)], "sample_rate": 16000}
    flac = encode_audio(noise)
    fitted = fit_media(
        flac, "n.flac", OutputKind.AUDIO, "audio/flac", len(flac) // 3, deadline=time.monotonic() + FAR
    )
    assert (fitted.kind, fitted.mime, fitted.filename) == (OutputKind.AUDIO, "audio/ogg", "n.ogg")
    assert len(fitted.data) <= len(flac) // 3
    gone = fit_media(flac, "n.flac", OutputKind.AUDIO, "audio/flac", 500, deadline=time.monotonic() + FAR)
    assert gone.dropped
    assert "was not posted" in (gone.note or "")


def test_long_text_is_cut_on_a_character_boundary() -> None:
    text = ("é" * 3000).encode()
    fitted = fit_media(text, "t.txt", OutputKind.TEXT, "text/plain", 1001, deadline=0.0)
    assert len(fitted.data) <= 1001
    assert fitted.data.decode() == "é" * 500


async def test_the_fitter_works_off_the_event_loop(noisy_mp4: bytes) -> None:
    import threading

    fitter = MediaFitter(time_limit=60)
    seen: list[str] = []
    original = fit_media

    try:
        import bot.media.fitter as module

        def spy(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
            seen.append(threading.current_thread().name)
            return original(*args, **kwargs)  # type: ignore[arg-type]

        module.fit_media = spy  # type: ignore[assignment]
        fitted = await fitter.fit(noisy_mp4, "c.mp4", OutputKind.VIDEO, "video/mp4", len(noisy_mp4) // 3)
    finally:
        module.fit_media = original  # type: ignore[assignment]
        fitter.close()
    assert len(fitted.data) <= len(noisy_mp4) // 3
    assert seen[0].startswith("media-fit")
    assert fitter.fitted == 1
