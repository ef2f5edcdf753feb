"""Telling results apart by their bytes: stills from animations, videos, audio."""

from __future__ import annotations

import io
import math
import struct

import av
import pytest
from PIL import Image

from bot.comfy.http import OutputFile, OutputText, node_outputs
from bot.media import OutputKind, extension_for, file_type
from tests.fakes.comfyui.nodes.media import encode_audio, encode_video


def _frames(count: int) -> list[Image.Image]:
    return [Image.new("RGB", (16, 16), (i * 40 % 256, 80, 120)) for i in range(count)]


def _saved(fmt: str, count: int, **params: object) -> bytes:
    frames = _frames(count)
    out = io.BytesIO()
    if count > 1:
        frames[0].save(out, format=fmt, save_all=True, append_images=frames[1:], duration=100, **params)
    else:
        frames[0].save(out, format=fmt, **params)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "count", "kind", "mime"),
    [
        ("PNG", 1, OutputKind.IMAGE, "image/png"),
        ("PNG", 3, OutputKind.ANIMATION, "image/png"),
        ("WEBP", 1, OutputKind.IMAGE, "image/webp"),
        ("WEBP", 3, OutputKind.ANIMATION, "image/webp"),
        ("GIF", 1, OutputKind.IMAGE, "image/gif"),
        ("GIF", 3, OutputKind.ANIMATION, "image/gif"),
        ("JPEG", 1, OutputKind.IMAGE, "image/jpeg"),
    ],
)
def test_pictures_are_told_apart_from_animations_by_their_bytes(
    fmt: str, count: int, kind: OutputKind, mime: str
) -> None:
    found = file_type(_saved(fmt, count), "misleading_name.bin")
    assert found is not None
    assert (found.kind, found.mime) == (kind, mime)


def test_videos_and_audio_are_recognised_whatever_their_name() -> None:
    mp4 = encode_video(_frames(4), 8.0, "mp4", "libx264")
    webm = encode_video(_frames(4), 8.0, "webm", "libvpx-vp9")
    samples = [math.sin(i / 10) for i in range(1600)]
    flac = encode_audio({"samples": samples, "sample_rate": 16000})
    assert file_type(mp4, "x.png").mime == "video/mp4"  # type: ignore[union-attr]
    assert file_type(webm).kind is OutputKind.VIDEO  # type: ignore[union-attr]
    assert file_type(flac).kind is OutputKind.AUDIO  # type: ignore[union-attr]
    wav = io.BytesIO()
    import wave

    with wave.open(wav, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(struct.pack("<h", 0) * 80)
    assert file_type(wav.getvalue()).mime == "audio/wav"  # type: ignore[union-attr]


def test_unknown_bytes_fall_back_to_the_server_type_then_the_name_else_nothing() -> None:
    assert file_type(b"\x00" * 32, "clip.mp4", "video/webm").mime == "video/webm"  # type: ignore[union-attr]
    assert file_type(b"\x00" * 32, "notes.txt").kind is OutputKind.TEXT  # type: ignore[union-attr]
    assert file_type(b"\x08\x00latent", "x_00001_.latent") is None
    assert file_type(b"", "model.safetensors") is None


def test_extensions_follow_the_type() -> None:
    assert extension_for("image/png", OutputKind.ANIMATION) == "png"
    assert extension_for("video/mp4", OutputKind.VIDEO) == "mp4"
    assert extension_for("audio/flac", OutputKind.AUDIO) == "flac"
    assert extension_for("text/plain", OutputKind.TEXT) == "txt"
    assert extension_for("application/x-unknown", OutputKind.IMAGE) == "bin"


def test_node_outputs_take_files_under_any_key_and_texts_under_text_keys() -> None:
    ui = {
        "gifs": [{"filename": "a.mp4", "subfolder": "vhs", "type": "output", "format": "video/h264-mp4"}],
        "audio": [{"filename": "b.flac", "subfolder": "", "type": "output"}],
        "images": [{"filename": "c.webp", "subfolder": "anim", "type": "output"}],
        "animated": [True],
        "text": ["hello", 5],
        "string": ["world"],
        "junk": [{"no": "filename"}, "a string under a file key", {"filename": ""}],
        "scalar": "ignored",
    }
    files, texts = node_outputs("7", ui)
    assert files == [
        OutputFile("7", "a.mp4", "vhs", "output", "gifs", True),
        OutputFile("7", "b.flac", "", "output", "audio", True),
        OutputFile("7", "c.webp", "anim", "output", "images", True),
    ]
    assert texts == [OutputText("7", "hello", "text"), OutputText("7", "world", "string")]
    assert node_outputs("8", "not a mapping") == ([], [])
    assert node_outputs("9", {"images": [{"filename": "d.png"}]})[0][0].animated is False


def test_a_recorded_video_probe() -> None:
    mp4 = encode_video(_frames(6), 6.0, "mp4", "libx264")
    with av.open(io.BytesIO(mp4), mode="r") as container:
        assert container.streams.video[0].codec_context.name == "h264"
