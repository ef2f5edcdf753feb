"""Small deterministic Pillow images standing in for tensors, plus the wire encodings of image frames."""

from __future__ import annotations

import io
import json
import random
import struct
from dataclasses import dataclass, field, replace
from typing import Any

from PIL import Image, ImageDraw, ImageOps

# Binary websocket event types (ComfyUI protocol.py).
PREVIEW_IMAGE = 1
TEXT = 3
PREVIEW_IMAGE_WITH_METADATA = 4

EMPTY_LATENT_COLOR = (41, 41, 41)


def _f32(x: float) -> float:
    return float(struct.unpack("f", struct.pack("f", x))[0])


def _invert_lut() -> list[int]:
    # ComfyUI inverts float32 tensors (1.0 - v/255) and converts back with a truncating uint8 cast, so many
    # values come out one lower than 255 - v. Reproducing that keeps outputs pixel-identical to the server.
    return [int(_f32(255.0 * _f32(1.0 - _f32(v / 255.0)))) for v in range(256)]


INVERT_LUT = _invert_lut()


def invert(image: Image.Image) -> Image.Image:
    """ComfyUI's ImageInvert on an 8-bit RGB image, float rounding included."""
    return image.convert("RGB").point(INVERT_LUT * 3)


def synth_image(seed: int, width: int, height: int, index: int = 0) -> Image.Image:
    """A deterministic blocky RGB picture for (seed, index, size)."""
    width, height = max(1, width), max(1, height)
    rng = random.Random(seed * 1_000_003 + index * 7919)
    image = Image.new("RGB", (width, height), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x0, x1 = sorted(rng.randrange(width) for _ in range(2))
        y0, y1 = sorted(rng.randrange(height) for _ in range(2))
        draw.rectangle((x0, y0, x1, y1), fill=tuple(rng.randrange(256) for _ in range(3)))
    return image


@dataclass(frozen=True)
class Latent:
    """Stand-in for ComfyUI's LATENT dict: pixel size, batch, and what sampling did to it."""

    width: int
    height: int
    batch: int = 1
    seed: int | None = None
    salt: int = 0
    """Digest of what conditioned the sampling (model, prompt): same seed + other prompt = other image."""
    steps: int = 0
    denoise: float = 1.0
    first_index: int = 0
    """Which entry of the batch it was made with comes first (LatentFromBatch): each entry keeps its own
    noise, like ComfyUI's ``batch_index``."""
    source: tuple[Image.Image, ...] | None = field(default=None, compare=False)
    noise_mask: tuple[Image.Image, ...] | None = field(default=None, compare=False)

    def sampled(self, seed: int, steps: int, denoise: float = 1.0, salt: int = 0) -> Latent:
        return replace(self, seed=seed, steps=steps, denoise=denoise, salt=salt)

    def resized(self, width: int, height: int) -> Latent:
        return replace(self, width=max(8, width), height=max(8, height))

    def __str__(self) -> str:
        return f"{{'samples': tensor(shape=[{self.batch}, 4, {self.height // 8}, {self.width // 8}])}}"


def render_latent(latent: Latent, index: int, scale: int, progress: float = 1.0) -> Image.Image:
    """What decoding (or a Latent2RGB preview of) one batch entry of the latent looks like."""
    size = (max(1, latent.width // scale), max(1, latent.height // scale))
    if latent.seed is None:
        base = Image.new("RGB", size, EMPTY_LATENT_COLOR)
    else:
        base = synth_image(latent.seed + latent.salt, size[0], size[1], latent.first_index + index)
    if latent.source is not None:
        source = latent.source[index % len(latent.source)].convert("RGB").resize(size)
        if latent.noise_mask is not None:
            mask = latent.noise_mask[index % len(latent.noise_mask)].convert("L").resize(size)
            base = Image.composite(base, source, mask)
        else:
            base = Image.blend(source, base, max(0.0, min(1.0, latent.denoise)))
    if progress < 1.0:
        base = Image.blend(Image.new("RGB", size, EMPTY_LATENT_COLOR), base, max(0.0, progress))
    return base


def decode(latent: Latent, scale: int) -> list[Image.Image]:
    return [render_latent(latent, i, scale) for i in range(latent.batch)]


PreviewTuple = tuple[str, Image.Image, int | None]
"""(format, image, max_size) - the shape ComfyUI passes to ProgressBar.update_absolute."""


def encode_preview(preview: PreviewTuple) -> tuple[int, str, bytes]:
    """Encode like server.send_image: returns (legacy image type number, mimetype, bytes)."""
    image_format, image, max_size = preview
    if max_size is not None:
        image = ImageOps.contain(image, (max_size, max_size), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, quality=95, compress_level=1)
    type_num = 2 if image_format == "PNG" else 1
    mimetype = "image/png" if image_format == "PNG" else "image/jpeg"
    return type_num, mimetype, buffer.getvalue()


def legacy_image_frame(preview: PreviewTuple) -> bytes:
    type_num, _, data = encode_preview(preview)
    return struct.pack(">II", PREVIEW_IMAGE, type_num) + data


def metadata_image_frame(preview: PreviewTuple, metadata: dict[str, Any]) -> bytes:
    _, mimetype, data = encode_preview(preview)
    meta = json.dumps({**metadata, "image_type": mimetype}).encode()
    return struct.pack(">II", PREVIEW_IMAGE_WITH_METADATA, len(meta)) + meta + data


def text_frame(node_id: str, text: str) -> bytes:
    node = node_id.encode()
    return struct.pack(">II", TEXT, len(node)) + node + text.encode()


def png_bytes(image: Image.Image, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **params)
    return buffer.getvalue()


def describe_batch(images: list[Image.Image]) -> str:
    """How an IMAGE/MASK shows up in execution_error.current_inputs (ComfyUI prints the tensor)."""
    if not images:
        return "tensor([])"
    width, height = images[0].size
    channels = len(images[0].getbands())
    shape = [len(images), height, width] + ([channels] if channels > 1 else [])
    return f"tensor(shape={shape})"
