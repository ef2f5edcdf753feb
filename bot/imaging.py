"""Input images: decode safely, apply orientation, strip metadata, store as PNG; outputs: fit a size limit.

Decoding happens under a pixel limit checked from the header before any pixel is decoded, so a
decompression bomb costs nothing. CPU-heavy work is for ``asyncio.to_thread``.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from bot.errors import InvalidInput

DEFAULT_MAX_PIXELS = 4096 * 4096
ALLOWED_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF", "BMP"})


@dataclass(frozen=True, slots=True)
class NormalisedImage:
    data: bytes
    width: int
    height: int


def normalise_image(
    data: bytes, *, what: str = "image", max_pixels: int = DEFAULT_MAX_PIXELS
) -> NormalisedImage:
    """Validate and re-encode an uploaded image as a metadata-free PNG; raise InvalidInput if unusable."""
    if not data:
        raise InvalidInput(f"The {what} is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format or "?"
                width, height = probe.size
                if fmt not in ALLOWED_FORMATS:
                    raise InvalidInput(f"The {what} is a {fmt} file; send a PNG, JPEG or WebP image.")
                if width * height > max_pixels:
                    raise InvalidInput(
                        f"The {what} is {width}x{height} pixels; the limit is {max_pixels:,} pixels in all."
                    )
                probe.seek(0)
                image = ImageOps.exif_transpose(probe)
                image.load()
    except InvalidInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput(f"The {what} has far too many pixels to be processed safely.") from None
    except UnidentifiedImageError:
        raise InvalidInput(f"The {what} is not an image I can read (PNG, JPEG or WebP).") from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise InvalidInput(f"The {what} looks damaged or truncated.") from None
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
    out = io.BytesIO()
    # No pnginfo and no exif: metadata (GPS, camera, prompts of other tools) is dropped.
    image.save(out, format="PNG", optimize=False, compress_level=6)
    return NormalisedImage(out.getvalue(), image.width, image.height)


@dataclass(frozen=True, slots=True)
class FittedImage:
    data: bytes
    filename: str
    note: str | None = None


def fit_output(data: bytes, filename: str, limit: int) -> FittedImage:
    """Make a result fit ``limit`` bytes: keep it, else WebP, else JPEG, else downscale; say what changed."""
    if len(data) <= limit:
        return FittedImage(data, filename)
    stem = filename.rsplit(".", 1)[0]
    with Image.open(io.BytesIO(data)) as source:
        image = source.convert("RGBA" if "A" in source.getbands() else "RGB")
    for fmt, ext, quality in (("WEBP", "webp", 90), ("JPEG", "jpg", 88)):
        encoded = _encode(image, fmt, quality)
        if len(encoded) <= limit:
            return FittedImage(encoded, f"{stem}.{ext}", f"re-encoded as {fmt} to fit the upload limit")
    scale = 0.8
    while scale > 0.05:
        smaller = image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale))))
        encoded = _encode(smaller, "JPEG", 85)
        if len(encoded) <= limit:
            return FittedImage(
                encoded,
                f"{stem}.jpg",
                f"downscaled to {smaller.width}x{smaller.height} to fit the upload limit",
            )
        scale *= 0.75
    raise InvalidInput("A result image is too large to upload even when shrunk.")


def _encode(image: Image.Image, fmt: str, quality: int) -> bytes:
    out = io.BytesIO()
    (image.convert("RGB") if fmt == "JPEG" else image).save(out, format=fmt, quality=quality)
    return out.getvalue()
