"""Input images: decode safely, apply orientation, strip metadata, store as PNG; outputs: fit a size limit.

Decoding happens under limits checked from the header before any pixel is decoded (pixels in all, and
each side), so a decompression bomb or a 20000x8 strip costs nothing. Every colour mode comes out as
8-bit L, LA, RGB or RGBA with its values scaled, not clipped (a 16-bit grey photo stays grey), or is
refused with a message. CPU-heavy work is for ``asyncio.to_thread``.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Final, cast

from PIL import Image, ImageOps, UnidentifiedImageError

from bot.errors import InvalidInput

DEFAULT_MAX_PIXELS: Final = 4096 * 4096
DEFAULT_MAX_SIDE: Final = 4096
"""Longest side of an input image (IMAGE_MAX_SIDE); refused beyond it, never silently downscaled, since
a workflow may depend on its input's exact size."""
MAX_IMAGE_FILE_BYTES: Final = 25 * 1024 * 1024
"""Largest input image file (a Discord attachment or a CLI ``--image``), checked before it is read."""
FAST_PNG_ABOVE: Final = 2048 * 2048
ALLOWED_FORMATS: Final = frozenset({"PNG", "JPEG", "WEBP", "GIF", "BMP"})

#: Leading bytes of each allowed format, to refuse other files after reading only their head.
_SIGNATURES: Final = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)
_KEPT_MODES: Final = frozenset({"L", "LA", "RGB", "RGBA"})
_SIXTEEN_BIT: Final = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})
#: Modes Pillow converts correctly with ``convert``: to this mode.
_CONVERTED: Final = {
    "1": "L",
    "La": "LA",
    "PA": "RGBA",
    "RGBa": "RGBA",
    "RGBX": "RGB",
    "CMYK": "RGB",
    "YCbCr": "RGB",
    "LAB": "RGB",
    "HSV": "RGB",
}


def sniff_format(head: bytes) -> str | None:
    """The allowed image format these leading bytes start, or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return next((fmt for magic, fmt in _SIGNATURES if head.startswith(magic)), None)


_BAND_ROWS: Final = 256


def _sixteen_bit_to_eight(image: Image.Image, what: str) -> Image.Image:
    """16-bit grey (modes I;16*, and I holding 16-bit values) to 8-bit L, 65535 -> 255, rounded.

    Pillow applies a 65536-entry table only to mode I (32 bits a pixel), so the image is converted a
    band of rows at a time: a whole 4096x4096 copy in mode I would be 64 MiB more at the peak.
    """
    if image.mode == "I":
        low, high = cast(tuple[float, float], image.getextrema())
        if low < 0 or high > 65535:
            raise InvalidInput(
                f"The {what} has 32-bit pixel values, which I cannot convert; "
                "save it as an 8- or 16-bit image."
            )
    levels = [(value + 128) // 257 for value in range(65536)]
    transparent = image.info.get("transparency")
    see_through = (
        [0 if value == transparent else 255 for value in range(65536)]
        if isinstance(transparent, int)
        else None
    )
    grey = Image.new("L", image.size)
    alpha = Image.new("L", image.size) if see_through is not None else None
    for top in range(0, image.height, _BAND_ROWS):
        box = (0, top, image.width, min(image.height, top + _BAND_ROWS))
        band = image.crop(box)
        wide = band if band.mode == "I" else band.convert("I")
        grey.paste(wide.point(levels, "L"), box)
        if alpha is not None and see_through is not None:  # a tRNS grey level: that value is see-through
            alpha.paste(wide.point(see_through, "L"), box)
    return Image.merge("LA", (grey, alpha)) if alpha is not None else grey


def standard_mode(image: Image.Image, what: str = "image") -> Image.Image:
    """``image`` as 8-bit L, LA, RGB or RGBA, with transparency kept; InvalidInput if that is impossible."""
    mode = image.mode
    transparent = image.info.get("transparency") is not None
    if mode in _KEPT_MODES:
        if transparent and mode in ("L", "RGB"):  # a tRNS colour: make it a real alpha channel
            return image.convert(mode + "A" if mode == "L" else "RGBA")
        return image
    if mode == "P":
        return image.convert("RGBA" if image.has_transparency_data else "RGB")
    if mode in _SIXTEEN_BIT or mode == "I":
        return _sixteen_bit_to_eight(image, what)
    target = _CONVERTED.get(mode)
    if target is None:  # F (floating point) and anything newer
        raise InvalidInput(
            f"The {what} uses the {mode} pixel format, which I cannot convert; "
            "save it as an ordinary PNG or JPEG."
        )
    return image.convert(target)


@dataclass(frozen=True, slots=True)
class NormalisedImage:
    data: bytes
    width: int
    height: int


def normalise_image(
    data: bytes,
    *,
    what: str = "image",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_side: int = DEFAULT_MAX_SIDE,
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
                if width > max_side or height > max_side:
                    raise InvalidInput(
                        f"The {what} is {width}x{height} pixels; each side may be at most {max_side:,} "
                        "pixels. Crop or shrink it and send it again."
                    )
                if width * height > max_pixels:
                    raise InvalidInput(
                        f"The {what} is {width}x{height} pixels; the limit is {max_pixels:,} pixels in all."
                    )
                probe.seek(0)
                probe.load()
                # In place: a copy of a 4096x4096 RGBA image is 64 MiB more at the peak.
                ImageOps.exif_transpose(probe, in_place=True)
                converted = standard_mode(probe, what)
                if converted is not probe:
                    probe.close()  # frees the decoded pixels before the PNG is written
                return _encoded(converted)
    except InvalidInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput(f"The {what} has far too many pixels to be processed safely.") from None
    except UnidentifiedImageError:
        raise InvalidInput(f"The {what} is not an image I can read (PNG, JPEG or WebP).") from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise InvalidInput(f"The {what} looks damaged or truncated.") from None


def _encoded(image: Image.Image) -> NormalisedImage:
    out = io.BytesIO()
    # No pnginfo and no exif: metadata (GPS, camera, prompts of other tools) is dropped. Large images get
    # the fastest compression: level 6 takes seconds on 16 megapixels of detail, for a few percent.
    level = 6 if image.width * image.height <= FAST_PNG_ABOVE else 1
    image.save(out, format="PNG", optimize=False, compress_level=level)
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
