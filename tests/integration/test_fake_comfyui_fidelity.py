"""The fake ComfyUI must reproduce the recorded real-server traffic (tests/data/comfyui), quirks included.

Each test replays one recording's client actions against a fresh fake with plain aiohttp and compares what
the fake sends with what the real ComfyUI 0.3.64 sent (see comfyui_transcripts.py for the normalisation).
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest
from PIL import Image, ImageDraw

from tests.fakes.comfyui import FakeComfyUI
from tests.fakes.comfyui.images import INVERT_LUT
from tests.integration.comfyui_transcripts import (
    Replayer,
    decode_frame,
    example_frame,
    normalise_object_info,
    object_info_subset,
)

# Sizes of the images the recorder uploaded (visible in the recorded outputs and frames).
UPLOAD_SIZES = {
    "case02_input.png": 40,
    "case03_input.png": 32,
    "case05_input.png": 16,
    "case10.png": 20,
    "case10_mask.png": 20,
    "case15_input.png": 24,
}
LATENT_WARMUP = {
    "10": {"class_type": "EmptyLatentImage", "inputs": {"width": 256, "height": 256, "batch_size": 1}},
    "11": {
        "class_type": "SlowSteps",
        "inputs": {"samples": ["10", 0], "steps": 1, "delay": 0.0, "seed": 0, "send_previews": False},
    },
    "14": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["11", 1]}},
}
CASE01_PROMPT = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "case01_input.png"}},
    "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
    "3": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["2", 0]}},
}


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def case01_upload() -> bytes:
    """The recorded upload, recovered from the recorded (inverted) SaveImageWebsocket frame."""
    frame = example_frame("saveimagewebsocket_png_legacy_event1")
    preimage = {out: value for value, out in enumerate(INVERT_LUT)}
    table = [preimage.get(out, 255 - out) for out in range(256)]
    with Image.open(io.BytesIO(frame[8:])) as inverted:
        return _png(inverted.convert("RGB").point(table * 3))


def make_upload(field: dict[str, Any]) -> bytes:
    """Bytes for a recorded multipart file field (the transcripts keep only length and sha256)."""
    name: str = field["filename"]
    length: int = field["length"]
    if name == "case01_input.png":
        return case01_upload()
    if "corrupt" in name or length > 100_000:
        return (b"not an image " * (length // 13 + 1))[:length]
    seed = int(field["sha256"][:6], 16)
    size = UPLOAD_SIZES.get(name, 16)
    mode = "RGBA" if "mask" in name else "RGB"
    colour = (seed % 251, seed // 251 % 251, seed // 63001 % 251, 128)[: len(mode)]
    image = Image.new(mode, (size, size), colour)
    ImageDraw.Draw(image).rectangle((0, 0, size // 2, size // 2), fill=(255, 255, 255, 255)[: len(mode)])
    return _png(image)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def start_fake(tmp_path: Path, **settings: Any) -> FakeComfyUI:
    fake = FakeComfyUI(root_dir=tmp_path / "comfyui", **settings)
    await fake.start()
    return fake


async def replay(fake: FakeComfyUI, session: aiohttp.ClientSession, name: str, **kwargs: Any) -> Replayer:
    hooks = kwargs.pop("hooks", None)
    replayer = Replayer(fake, session, name, upload=make_upload, **kwargs)
    await replayer.run(hooks)
    await fake.wait_idle()
    return replayer


async def submit_silently(fake: FakeComfyUI, session: aiohttp.ClientSession, prompt: dict[str, Any]) -> None:
    """Run a prompt without client_id before any socket connects (to warm the cache like earlier cases)."""
    async with session.post(fake.base_url + "/prompt", json={"prompt": prompt}) as response:
        assert response.status == 200, await response.text()
    await fake.wait_idle()


async def test_01_saveimagewebsocket_legacy_client(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path)
    try:
        replayer = await replay(fake, session, "01_saveimagewebsocket")
        replayer.compare_ws("A")
        [frame] = replayer.live_frames("A")
        recorded = example_frame("saveimagewebsocket_png_legacy_event1")
        assert frame[:8] == recorded[:8]
        with Image.open(io.BytesIO(frame[8:])) as live, Image.open(io.BytesIO(recorded[8:])) as real:
            assert (live.size, live.mode, live.tobytes()) == (real.size, real.mode, real.tobytes())
    finally:
        await fake.stop()


async def test_01b_saveimagewebsocket_metadata_client(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path)
    try:
        form = aiohttp.FormData()
        form.add_field("image", case01_upload(), filename="case01_input.png", content_type="image/png")
        form.add_field("overwrite", "true")
        async with session.post(fake.base_url + "/upload/image", data=form) as response:
            assert response.status == 200
        await submit_silently(fake, session, CASE01_PROMPT)  # case 01 ran just before: nodes 1, 2 cached

        replayer = await replay(fake, session, "01b_saveimagewebsocket_preview_metadata")
        replayer.compare_ws("A")
        [frame] = replayer.live_frames("A")
        recorded = example_frame("saveimagewebsocket_png_with_metadata_event4")
        live_meta, real_meta = decode_frame(frame)["metadata_raw"], decode_frame(recorded)["metadata_raw"]
        assert list(json.loads(live_meta)) == list(json.loads(real_meta))
        live_png = frame[8 + len(live_meta.encode()) :]
        real_png = recorded[8 + len(real_meta.encode()) :]
        with Image.open(io.BytesIO(live_png)) as live, Image.open(io.BytesIO(real_png)) as real:
            assert live.tobytes() == real.tobytes()
    finally:
        await fake.stop()


async def test_02_saveimage_history_view(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path)
    try:
        replayer = await replay(fake, session, "02_saveimage_history_view")
        replayer.compare_ws("A")
    finally:
        await fake.stop()


async def test_03_resubmit_cached(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path)
    try:
        replayer = await replay(fake, session, "03_resubmit_cached")
        replayer.compare_ws("A")
    finally:
        await fake.stop()


async def test_04_validation_errors(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path)
    try:
        await replay(fake, session, "04_validation_errors")
        # The partially accepted prompt ran only its valid outputs.
        [entry] = fake.history.values()
        assert entry["prompt"][4] == ["4", "3"]
        assert entry["status"]["status_str"] == "success"
    finally:
        await fake.stop()


async def test_05_execution_error(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path)
    try:
        replayer = await replay(fake, session, "05_execution_error")
        replayer.compare_ws("A")
    finally:
        await fake.stop()


async def test_06_interrupt(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path, time_scale=0.1)
    try:
        replayer = await replay(fake, session, "06_interrupt")
        replayer.compare_ws("A", drop_ticks_of="11")
        assert [record.outcome for record in fake.executions] == ["interrupted", "interrupted"]
    finally:
        await fake.stop()


async def test_07_progress_previews_legacy(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path, time_scale=0.2)
    try:
        await submit_silently(fake, session, LATENT_WARMUP)  # the previous case left node 10 cached
        replayer = await replay(fake, session, "07_progress_previews")
        replayer.compare_ws("A")
        text_frames = [f for f in replayer.live_frames("A") if f[:4] == b"\x00\x00\x00\x03"]
        assert text_frames == [example_frame("text_event3_getimagesize")]
    finally:
        await fake.stop()


async def test_07b_progress_previews_metadata(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path, time_scale=0.2)
    try:
        await submit_silently(fake, session, LATENT_WARMUP)
        replayer = await replay(fake, session, "07b_progress_previews_metadata")
        replayer.compare_ws("A")
    finally:
        await fake.stop()


async def test_07c_batch_saveimagewebsocket(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path, time_scale=0.2)
    try:
        replayer = await replay(fake, session, "07c_batch_saveimagewebsocket")
        replayer.compare_ws("A")
    finally:
        await fake.stop()


async def test_08_two_clients(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path, time_scale=0.2)
    try:
        replayer = await replay(fake, session, "08_two_clients")
        # Where the other client's queueing `status` lands in a stream depends on timing: compare apart.
        replayer.compare_ws("A", split_status=True)
        replayer.compare_ws("B", split_status=True)
    finally:
        await fake.stop()


async def test_17_animated_outputs(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path, time_scale=0.2)
    try:
        replayer = await replay(fake, session, "17_animated_outputs")
        replayer.compare_ws("A")
        for label in ("view_images",):
            _, headers, body = replayer.live_responses[label]
            assert headers["Content-Type"] == "image/webp"  # the last /view of the recording
            with Image.open(io.BytesIO(body)) as animation:
                assert (animation.format, animation.n_frames) == ("WEBP", 4)
        [apng] = list((fake.output_dir / "anim").glob("apng_*.png"))
        with Image.open(apng) as animation:
            assert animation.n_frames == 4  # an animated PNG, as the recording's `animated` says
    finally:
        await fake.stop()


def _video_info(body: bytes) -> tuple[str, int, tuple[int, int]]:
    with av.open(io.BytesIO(body)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.codec_context.name, frames, (stream.width, stream.height)


async def test_18_video_outputs(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path, time_scale=0.2)
    try:
        replayer = await replay(fake, session, "18_video_outputs")
        replayer.compare_ws("A")
        [mp4] = list((fake.output_dir / "video").glob("clip_*.mp4"))
        [webm] = list((fake.output_dir / "video").glob("webm_*.webm"))
        assert _video_info(mp4.read_bytes()) == ("h264", 8, (8, 8))
        assert _video_info(webm.read_bytes()) == ("vp9", 8, (8, 8))
        _, headers, _ = replayer.live_responses["view_images"]
        assert headers["Content-Type"] == "video/webm"
    finally:
        await fake.stop()


async def test_19_text_output(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path, time_scale=0.2)
    try:
        replayer = await replay(fake, session, "19_text_output")
        replayer.compare_ws("A")
    finally:
        await fake.stop()


def _check_full_object_info(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status == 200
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    info = json.loads(body)
    subset = object_info_subset()
    assert set(subset) <= set(info)
    assert normalise_object_info({k: info[k] for k in subset}) == normalise_object_info(subset)


async def test_09_info_and_queue(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path, time_scale=0.25)
    try:
        replayer = await replay(
            fake, session, "09_info_queue", special={"object_info_full_summary": _check_full_object_info}
        )
        replayer.compare_ws("A", split_status=True)
    finally:
        await fake.stop()


async def test_10_upload_semantics(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path)
    try:
        replayer = await replay(fake, session, "10_upload_semantics")
        replayer.compare_ws("A")
        _, _, body = replayer.live_responses["loadimage_choices_after_uploads"]
        choices = json.loads(body)["LoadImage"]["input"]["required"]["image"][0]
        assert choices == ["case10 (1).png", "case10.png", "case10_mask.png", "example.png"]
        with Image.open(fake.input_dir / "case10_mask.png") as mask:
            assert (mask.mode, mask.size) == ("RGBA", (20, 20))
    finally:
        await fake.stop()


async def test_11_no_client_id(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path, time_scale=0.2)
    try:
        replayer = await replay(fake, session, "11_no_client_id")
        replayer.compare_ws("OBS")
    finally:
        await fake.stop()


async def test_12_reconnect_mid_run(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path, time_scale=0.25)
    try:
        await submit_silently(fake, session, LATENT_WARMUP)
        replayer = await replay(fake, session, "12_reconnect")
        # How many step updates arrive before the close / are lost while disconnected depends on timing.
        replayer.compare_ws("A", drop_ticks_of="11")
        tick = '["progress", {"value": 2, "max": 12, "prompt_id": "P0", "node": "11"}]'
        assert tick in replayer.live_ws("A")
        replayer.compare_ws("A2", drop_ticks_of="11")
        assert replayer.live_ws("A2")[1] == '["executing", {"node": "11"}]'
    finally:
        await fake.stop()


async def test_13_origin_check(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path)
    try:
        replayer = await replay(fake, session, "13_origin_check")
        assert replayer.connect_failures == {"X": 403}
    finally:
        await fake.stop()


async def test_14_upload_too_large(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path, max_upload_size=1024 * 1024.0)
    try:
        await replay(fake, session, "14_upload_too_large")
    finally:
        await fake.stop()


async def test_15_prompt_request_fields(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path)
    try:
        replayer = await replay(fake, session, "15_prompt_request_fields")
        replayer.compare_ws("A")
    finally:
        await fake.stop()


async def test_16_duplicate_client_id(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path)
    try:
        replayer = await replay(fake, session, "16_duplicate_client_id")
        for label in ("A", "A2", "OTHER"):
            replayer.compare_ws(label)
    finally:
        await fake.stop()


async def test_object_info_matches_recorded_subset(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    fake = await start_fake(tmp_path, checkpoints=[])
    try:
        for name, recorded in object_info_subset().items():
            async with session.get(f"{fake.base_url}/object_info/{name}") as response:
                live = await response.json()
            assert normalise_object_info(live) == normalise_object_info({name: recorded}), name
        async with session.get(f"{fake.base_url}/object_info/CheckpointLoaderSimple") as response:
            live = await response.json()
        assert live == {"CheckpointLoaderSimple": object_info_subset()["CheckpointLoaderSimple"]}
    finally:
        await fake.stop()
