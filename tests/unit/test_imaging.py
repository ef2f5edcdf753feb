"""Input normalisation refuses what it must and strips what it should; outputs are fitted to limits."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from bot.errors import InvalidInput
from bot.imaging import fit_output, normalise_image


def _png(size: tuple[int, int] = (32, 24), mode: str = "RGB", **save: object) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 10, 10) if mode == "RGB" else 128).save(out, format="PNG", **save)
    return out.getvalue()


def _jpeg_with_orientation() -> bytes:
    image = Image.new("RGB", (40, 20), (0, 255, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW when displayed
    exif[0x010F] = "SecretCam"
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def _bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims huge dimensions (the pixels are never there)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


def test_png_round_trips_as_png() -> None:
    result = normalise_image(_png())
    assert result.data.startswith(b"\x89PNG")
    assert (result.width, result.height) == (32, 24)


def test_orientation_applied_and_metadata_stripped() -> None:
    result = normalise_image(_jpeg_with_orientation())
    assert (result.width, result.height) == (20, 40)
    assert b"SecretCam" not in result.data
    with Image.open(io.BytesIO(result.data)) as image:
        assert not image.getexif()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty"),
        (b"hello, not an image", "not an image"),
        (_png((64, 64))[:-30], "damaged or truncated"),
        (_bomb_png(100_000, 100_000), "pixels"),
    ],
)
def test_bad_inputs_get_specific_messages(data: bytes, expected: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalise_image(data, what="attachment")
    assert expected in info.value.user_message


def test_pixel_limit_is_configurable() -> None:
    with pytest.raises(InvalidInput, match="64x64"):
        normalise_image(_png((64, 64)), max_pixels=1000)


def test_unsupported_format_is_named() -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="TIFF")
    with pytest.raises(InvalidInput, match="TIFF"):
        normalise_image(out.getvalue())


def test_fit_output_keeps_small_files_untouched() -> None:
    data = _png()
    fitted = fit_output(data, "a.png", 10_000_000)
    assert fitted.data == data
    assert fitted.note is None


def test_fit_output_reencodes_then_downscales() -> None:
    noisy = Image.effect_noise((512, 512), 90).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, format="PNG")
    data = out.getvalue()
    reencoded = fit_output(data, "r.png", len(data) // 2)
    assert len(reencoded.data) <= len(data) // 2
    assert reencoded.note is not None
    assert reencoded.filename.endswith((".webp", ".jpg"))
    tiny = fit_output(data, "r.png", 6_000)
    assert len(tiny.data) <= 6_000
    assert tiny.note is not None
    assert "downscaled" in tiny.note
