"""Animated, video, audio and text outputs (recordings 17, 18, 19), plus the batch helpers a model-free
animation needs (ImageBlend, ImageBatch) and LatentFromBatch (a batch entry's own noise).

Files are real: animated WebP/PNG through Pillow, MP4 (H.264) and WebM (VP9) through PyAV, FLAC audio
through PyAV, so the bot fetches, re-encodes and posts what a real server writes. Outputs are listed the
way ComfyUI 0.3.64 lists them: ``{"images": [...], "animated": [true]}`` for animations and for videos,
``{"text": [...]}`` for PreviewAny, ``{"audio": [...]}`` for SaveAudio and ``{"gifs": [...]}`` for the
VideoHelperSuite custom node ``VHS_VideoCombine``.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import os
import struct
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import av
from PIL import Image, ImageChops

from tests.fakes.comfyui.images import Latent
from tests.fakes.comfyui.storage import save_image_path

from .base import NodeDef, NodeResult, NodeRuntime
from .image import IMAGE_HIDDEN

WEBP_METHODS = {"default": 4, "fastest": 0, "slowest": 6}
BLEND_MODES = ["normal", "multiply", "screen", "overlay", "soft_light", "difference"]
VIDEO_FORMATS = ["auto", "mp4"]
VIDEO_CODECS = ["auto", "h264"]
VHS_FORMATS = ["image/gif", "image/webp", "video/h264-mp4", "video/webm"]
VIDEO_MODULE = "comfy_extras.nodes_video"
PREFIX_TOOLTIP = (
    "The prefix for the file to save. This may include formatting information such as "
    "%date:yyyy-MM-dd% or %Empty Latent Image.width% to include values from nodes."
)


@dataclass(frozen=True)
class Video:
    """VIDEO: frames, frame rate and optional audio (ComfyUI's VideoFromComponents)."""

    frames: tuple[Image.Image, ...]
    fps: float
    audio: dict[str, Any] | None = None


def _saved(prefix: str, ctx: NodeRuntime, frames: list[Image.Image], ext: str) -> tuple[str, dict[str, str]]:
    folder, stem, counter, subfolder = save_image_path(
        prefix, ctx.storage.output_dir, frames[0].width, frames[0].height
    )
    name = f"{stem}_{counter:05}_.{ext}"
    return os.path.join(folder, name), {"filename": name, "subfolder": subfolder, "type": "output"}


def encode_video(
    frames: list[Image.Image] | tuple[Image.Image, ...],
    fps: float,
    container: str,
    codec: str,
    *,
    crf: float | None = None,
    audio: dict[str, Any] | None = None,
) -> bytes:
    """Frames as a real video file (PyAV), the way ComfyUI's video nodes write them."""
    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=Fraction(round(fps * 1000), 1000))
        stream.width = frames[0].width - frames[0].width % 2
        stream.height = frames[0].height - frames[0].height % 2
        stream.pix_fmt = "yuv420p"
        if crf is not None:
            stream.bit_rate = 0
            stream.options = {"crf": str(int(crf))}
        sound = None
        if audio is not None:
            sound = output.add_stream("aac", rate=int(audio["sample_rate"]))
            sound.layout = "mono"
        for image in frames:
            frame = av.VideoFrame.from_image(image.convert("RGB").crop((0, 0, stream.width, stream.height)))
            output.mux(stream.encode(frame))
        output.mux(stream.encode())
        if sound is not None and audio is not None:
            _write_audio(output, sound, audio)
    return out.getvalue()


def _write_audio(output: Any, stream: Any, audio: dict[str, Any]) -> None:
    """Mono float samples in [-1, 1] through the stream's encoder, in frames of the size it takes."""
    samples: list[float] = audio["samples"]
    rate = int(audio["sample_rate"])
    pcm = b"".join(struct.pack("<h", round(max(-1.0, min(1.0, s)) * 32767)) for s in samples)
    frame = av.AudioFrame(format="s16", layout="mono", samples=len(samples))
    frame.planes[0].update(pcm)
    frame.sample_rate = rate
    codec = stream.codec_context
    resampler = av.AudioResampler(
        format=codec.format, layout=codec.layout, rate=rate, frame_size=codec.frame_size or None
    )
    for piece in [*resampler.resample(frame), *resampler.resample(None)]:
        output.mux(stream.encode(piece))
    output.mux(stream.encode(None))


def encode_audio(audio: dict[str, Any], container: str = "flac", codec: str = "flac") -> bytes:
    """AUDIO as a real audio file (ComfyUI's SaveAudio writes FLAC)."""
    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=int(audio["sample_rate"]))
        stream.layout = "mono"
        _write_audio(output, stream, audio)
    return out.getvalue()


async def save_animated_webp(
    ctx: NodeRuntime,
    images: list[Image.Image],
    fps: float,
    filename_prefix: str = "ComfyUI",
    lossless: bool = True,
    quality: int = 80,
    method: str = "default",
    prompt: Any = None,
    extra_pnginfo: Any = None,
) -> NodeResult:
    path, entry = _saved(filename_prefix, ctx, images, "webp")
    images[0].save(
        path,
        format="WEBP",
        save_all=True,
        append_images=images[1:],
        duration=round(1000.0 / fps),
        lossless=lossless,
        quality=quality,
        method=WEBP_METHODS.get(method, 4),
    )
    return NodeResult((), {"images": [entry], "animated": [True]})


async def save_animated_png(
    ctx: NodeRuntime,
    images: list[Image.Image],
    fps: float,
    compress_level: int,
    filename_prefix: str = "ComfyUI",
    prompt: Any = None,
    extra_pnginfo: Any = None,
) -> NodeResult:
    path, entry = _saved(filename_prefix, ctx, images, "png")
    images[0].save(
        path,
        format="PNG",
        save_all=True,
        append_images=images[1:],
        duration=round(1000.0 / fps),
        compress_level=compress_level,
    )
    return NodeResult((), {"images": [entry], "animated": [True]})


async def create_video(
    ctx: NodeRuntime, images: list[Image.Image], fps: float, audio: dict[str, Any] | None = None
) -> NodeResult:
    return NodeResult((Video(tuple(images), fps, audio),))


async def save_video(
    ctx: NodeRuntime,
    video: Video,
    filename_prefix: str = "video/ComfyUI",
    format: str = "auto",
    codec: str = "auto",
    prompt: Any = None,
    extra_pnginfo: Any = None,
) -> NodeResult:
    frames = list(video.frames)
    path, entry = _saved(filename_prefix, ctx, frames, "mp4")
    crf = ctx.settings.video_crf
    data = await asyncio.to_thread(
        encode_video, frames, video.fps, "mp4", "libx264", crf=crf, audio=video.audio
    )
    with open(path, "wb") as file:
        file.write(data)
    return NodeResult((), {"images": [entry], "animated": [True]})


async def save_webm(
    ctx: NodeRuntime,
    images: list[Image.Image],
    codec: str,
    fps: float,
    crf: float,
    filename_prefix: str = "ComfyUI",
    prompt: Any = None,
    extra_pnginfo: Any = None,
) -> NodeResult:
    path, entry = _saved(filename_prefix, ctx, images, "webm")
    data = await asyncio.to_thread(encode_video, images, fps, "webm", "libvpx-vp9", crf=crf)
    with open(path, "wb") as file:
        file.write(data)
    return NodeResult((), {"images": [entry], "animated": [True]})


async def vhs_video_combine(
    ctx: NodeRuntime,
    images: list[Image.Image],
    frame_rate: float,
    loop_count: int,
    filename_prefix: str,
    format: str,
    pingpong: bool,
    save_output: bool,
    prompt: Any = None,
    extra_pnginfo: Any = None,
    unique_id: Any = None,
) -> NodeResult:
    """VideoHelperSuite's combine node: lists its file under ``gifs`` whatever the format."""
    frames = images + images[-2:0:-1] if pingpong else images
    ext = {"image/gif": "gif", "image/webp": "webp", "video/h264-mp4": "mp4", "video/webm": "webm"}[format]
    path, entry = _saved(filename_prefix, ctx, frames, ext)
    if ext in ("gif", "webp"):
        frames[0].save(
            path,
            format=ext.upper(),
            save_all=True,
            append_images=frames[1:],
            duration=round(1000.0 / frame_rate),
            loop=loop_count,
        )
    else:
        codec = "libx264" if ext == "mp4" else "libvpx-vp9"
        data = await asyncio.to_thread(
            encode_video, frames, frame_rate, ext, codec, crf=ctx.settings.video_crf
        )
        with open(path, "wb") as file:
            file.write(data)
    entry = {**entry, "format": format, "frame_rate": frame_rate, "workflow": "", "fullpath": path}
    return NodeResult(((save_output, [path]),), {"gifs": [entry]})


async def test_tone(ctx: NodeRuntime, seconds: float, frequency: float) -> NodeResult:
    """A sine tone as AUDIO (a test-only node, like SlowSteps: audio generation needs models)."""
    rate = 16000
    count = max(1, round(seconds * rate))
    samples = [0.4 * math.sin(2 * math.pi * frequency * i / rate) for i in range(count)]
    return NodeResult(({"samples": samples, "sample_rate": rate},))


async def save_audio(
    ctx: NodeRuntime,
    audio: dict[str, Any],
    filename_prefix: str = "audio/ComfyUI",
    prompt: Any = None,
    extra_pnginfo: Any = None,
) -> NodeResult:
    folder, stem, counter, subfolder = save_image_path(filename_prefix, ctx.storage.output_dir, 0, 0)
    name = f"{stem}_{counter:05}_.flac"
    data = await asyncio.to_thread(encode_audio, audio)
    with open(os.path.join(folder, name), "wb") as file:
        file.write(data)
    return NodeResult((), {"audio": [{"filename": name, "subfolder": subfolder, "type": "output"}]})


async def save_latent(
    ctx: NodeRuntime,
    samples: Latent,
    filename_prefix: str = "latents/ComfyUI",
    prompt: Any = None,
    extra_pnginfo: Any = None,
) -> NodeResult:
    """A ``.latent`` file (safetensors inside): an output, but not one a chat can show."""
    folder, stem, counter, subfolder = save_image_path(filename_prefix, ctx.storage.output_dir, 0, 0)
    name = f"{stem}_{counter:05}_.latent"
    with open(os.path.join(folder, name), "wb") as file:
        file.write(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      " + str(samples).encode())
    return NodeResult((), {"latents": [{"filename": name, "subfolder": subfolder, "type": "output"}]})


def _as_text(source: Any) -> str:
    """PreviewAny: strings as they are, numbers by str(), anything else as indented JSON."""
    if isinstance(source, str):
        return source
    if isinstance(source, int | float | bool):
        return str(source)
    if source is None:
        return "None"
    try:
        return json.dumps(source, indent=4)
    except (TypeError, ValueError):
        return str(source)


async def preview_any(ctx: NodeRuntime, source: Any = None) -> NodeResult:
    value = _as_text(source)
    return NodeResult((value,), {"text": [value]})


def _blend(first: Image.Image, second: Image.Image, factor: float, mode: str) -> Image.Image:
    second = second.convert("RGB").resize(first.size) if second.size != first.size else second.convert("RGB")
    first = first.convert("RGB")
    if mode == "multiply":
        mixed = ImageChops.multiply(first, second)
    elif mode == "screen":
        mixed = ImageChops.screen(first, second)
    elif mode == "overlay":
        mixed = ImageChops.overlay(first, second)
    elif mode == "soft_light":
        mixed = ImageChops.soft_light(first, second)
    elif mode == "difference":
        mixed = ImageChops.difference(first, second)
    else:
        mixed = second
    return Image.blend(first, mixed, factor)


async def primitive_string(ctx: NodeRuntime, value: str) -> NodeResult:
    return NodeResult((value,))


async def image_blend(
    ctx: NodeRuntime,
    image1: list[Image.Image],
    image2: list[Image.Image],
    blend_factor: float,
    blend_mode: str,
) -> NodeResult:
    return NodeResult(
        ([_blend(a, image2[i % len(image2)], blend_factor, blend_mode) for i, a in enumerate(image1)],)
    )


async def image_batch(ctx: NodeRuntime, image1: list[Image.Image], image2: list[Image.Image]) -> NodeResult:
    size = image1[0].size
    return NodeResult(([*image1, *(i if i.size == size else i.resize(size) for i in image2)],))


async def latent_from_batch(ctx: NodeRuntime, samples: Latent, batch_index: int, length: int) -> NodeResult:
    """The entries ``batch_index``.. of a batch; they keep their own noise (``batch_index``)."""
    index = min(samples.batch - 1, batch_index)
    count = min(samples.batch - index, length)
    return NodeResult((replace(samples, batch=count, first_index=samples.first_index + index),))


MEDIA_NODES = [
    NodeDef(
        name="SaveAnimatedWEBP",
        display_name="SaveAnimatedWEBP",
        category="image/animation",
        output=(),
        run=save_animated_webp,
        required={
            "images": ["IMAGE"],
            "filename_prefix": ["STRING", {"default": "ComfyUI"}],
            "fps": ["FLOAT", {"default": 6.0, "min": 0.01, "max": 1000.0, "step": 0.01}],
            "lossless": ["BOOLEAN", {"default": True}],
            "quality": ["INT", {"default": 80, "min": 0, "max": 100}],
            "method": [list(WEBP_METHODS)],
        },
        hidden=IMAGE_HIDDEN,
        output_node=True,
        python_module="comfy_extras.nodes_images",
    ),
    NodeDef(
        name="SaveAnimatedPNG",
        display_name="SaveAnimatedPNG",
        category="image/animation",
        output=(),
        run=save_animated_png,
        required={
            "images": ["IMAGE"],
            "filename_prefix": ["STRING", {"default": "ComfyUI"}],
            "fps": ["FLOAT", {"default": 6.0, "min": 0.01, "max": 1000.0, "step": 0.01}],
            "compress_level": ["INT", {"default": 4, "min": 0, "max": 9}],
        },
        hidden=IMAGE_HIDDEN,
        output_node=True,
        python_module="comfy_extras.nodes_images",
    ),
    NodeDef(
        name="CreateVideo",
        display_name="Create Video",
        category="image/video",
        output=("VIDEO",),
        run=create_video,
        required={
            "images": ["IMAGE", {"tooltip": "The images to create a video from."}],
            "fps": ["FLOAT", {"default": 30.0, "min": 1.0, "max": 120.0, "step": 1.0}],
        },
        optional={"audio": ["AUDIO", {"tooltip": "The audio to add to the video."}]},
        description="Create a video from images.",
        python_module=VIDEO_MODULE,
    ),
    NodeDef(
        name="SaveVideo",
        display_name="Save Video",
        category="image/video",
        output=(),
        run=save_video,
        required={
            "video": ["VIDEO", {"tooltip": "The video to save."}],
            "filename_prefix": ["STRING", {"default": "video/ComfyUI", "tooltip": PREFIX_TOOLTIP}],
            "format": [VIDEO_FORMATS, {"default": "auto", "tooltip": "The format to save the video as."}],
            "codec": [VIDEO_CODECS, {"default": "auto", "tooltip": "The codec to use for the video."}],
        },
        hidden=IMAGE_HIDDEN,
        output_node=True,
        description="Saves the input images to your ComfyUI output directory.",
        python_module=VIDEO_MODULE,
    ),
    NodeDef(
        name="SaveWEBM",
        display_name="SaveWEBM",
        category="image/video",
        output=(),
        run=save_webm,
        required={
            "images": ["IMAGE"],
            "filename_prefix": ["STRING", {"default": "ComfyUI"}],
            "codec": [["vp9", "av1"]],
            "fps": ["FLOAT", {"default": 24.0, "min": 0.01, "max": 1000.0, "step": 0.01}],
            "crf": [
                "FLOAT",
                {
                    "default": 32.0,
                    "min": 0,
                    "max": 63.0,
                    "step": 1,
                    "tooltip": "Higher crf means lower quality with a smaller file size, lower crf means "
                    "higher quality higher filesize.",
                },
            ],
        },
        hidden=IMAGE_HIDDEN,
        output_node=True,
        python_module=VIDEO_MODULE,
    ),
    NodeDef(
        name="VHS_VideoCombine",
        display_name="Video Combine 🎥🅥🅗🅢",
        category="Video Helper Suite 🎥🅥🅗🅢",
        output=("VHS_FILENAMES",),
        output_name=("Filenames",),
        run=vhs_video_combine,
        required={
            "images": ["IMAGE"],
            "frame_rate": ["FLOAT", {"default": 8, "min": 1, "step": 1}],
            "loop_count": ["INT", {"default": 0, "min": 0, "max": 100, "step": 1}],
            "filename_prefix": ["STRING", {"default": "AnimateDiff"}],
            "format": [VHS_FORMATS],
            "pingpong": ["BOOLEAN", {"default": False}],
            "save_output": ["BOOLEAN", {"default": True}],
        },
        hidden={**IMAGE_HIDDEN, "unique_id": "UNIQUE_ID"},
        output_node=True,
        python_module="custom_nodes.comfyui-videohelpersuite",
    ),
    NodeDef(
        name="TestTone",
        display_name="Test Tone (test)",
        category="testing",
        output=("AUDIO",),
        run=test_tone,
        required={
            "seconds": ["FLOAT", {"default": 1.0, "min": 0.01, "max": 600.0, "step": 0.01}],
            "frequency": ["FLOAT", {"default": 440.0, "min": 20.0, "max": 20000.0, "step": 1.0}],
        },
        python_module="custom_nodes.testing",
    ),
    NodeDef(
        name="SaveAudio",
        display_name="Save Audio (FLAC)",
        category="audio",
        output=(),
        run=save_audio,
        required={"audio": ["AUDIO"], "filename_prefix": ["STRING", {"default": "audio/ComfyUI"}]},
        hidden=IMAGE_HIDDEN,
        output_node=True,
        python_module="comfy_extras.nodes_audio",
    ),
    NodeDef(
        name="SaveLatent",
        display_name="SaveLatent",
        category="_for_testing",
        output=(),
        run=save_latent,
        required={"samples": ["LATENT"], "filename_prefix": ["STRING", {"default": "latents/ComfyUI"}]},
        hidden=IMAGE_HIDDEN,
        output_node=True,
    ),
    NodeDef(
        name="PreviewAny",
        display_name="Preview Any",
        category="utils",
        output=("STRING",),
        run=preview_any,
        required={"source": ["*", {}]},
        output_node=True,
        python_module="comfy_extras.nodes_preview_any",
    ),
    NodeDef(
        name="PrimitiveString",
        display_name="String",
        category="utils/primitive",
        output=("STRING",),
        run=primitive_string,
        required={"value": ["STRING", {"multiline": True}]},
        python_module="comfy_extras.nodes_primitive",
    ),
    NodeDef(
        name="ImageBlend",
        display_name="Image Blend",
        category="image/postprocessing",
        output=("IMAGE",),
        run=image_blend,
        required={
            "image1": ["IMAGE"],
            "image2": ["IMAGE"],
            "blend_factor": ["FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.01}],
            "blend_mode": [BLEND_MODES],
        },
        python_module="comfy_extras.nodes_post_processing",
    ),
    NodeDef(
        name="ImageBatch",
        display_name="Batch Images",
        category="image",
        output=("IMAGE",),
        run=image_batch,
        required={"image1": ["IMAGE"], "image2": ["IMAGE"]},
    ),
    NodeDef(
        name="LatentFromBatch",
        display_name="Latent From Batch",
        category="latent/batch",
        output=("LATENT",),
        run=latent_from_batch,
        required={
            "samples": ["LATENT"],
            "batch_index": ["INT", {"default": 0, "min": 0, "max": 63}],
            "length": ["INT", {"default": 1, "min": 1, "max": 64}],
        },
    ),
]
