"""Every Pillow mode converts to 8-bit with its values scaled (never clipped), or is refused by name;
every side of an input image is capped; a file is recognised by its first bytes."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import pytest
from PIL import Image

from bot.errors import InvalidInput
from bot.imaging import DEFAULT_MAX_SIDE, normalise_image, sniff_format, standard_mode


def _image(mode: str, pixels: list[Any], palette: list[int] | None = None) -> Image.Image:
    image = Image.new(mode, (len(pixels), 1))
    if palette is not None:
        image.putpalette(palette)
    for x, value in enumerate(pixels):
        image.putpixel((x, 0), value)
    return image


def _pixels(image: Image.Image) -> list[Any]:
    return [image.getpixel((x, 0)) for x in range(image.width)]


RED_PALETTE = [0, 0, 0, 255, 0, 0]

#: mode -> (pixels in that mode, expected mode, expected pixels). One row per mode in Image.MODES.
CONVERTED: dict[str, tuple[list[Any], str, list[Any]]] = {
    "1": ([0, 1], "L", [0, 255]),
    "L": ([7, 200], "L", [7, 200]),
    "LA": ([(7, 10), (200, 255)], "LA", [(7, 10), (200, 255)]),
    "La": ([(100, 128), (0, 0)], "LA", [(199, 128), (0, 0)]),  # premultiplied alpha undone
    "P": ([0, 1], "RGB", [(0, 0, 0), (255, 0, 0)]),
    "PA": ([(1, 128), (0, 255)], "RGBA", [(255, 0, 0, 128), (0, 0, 0, 255)]),
    "RGB": ([(1, 2, 3), (250, 251, 252)], "RGB", [(1, 2, 3), (250, 251, 252)]),
    "RGBA": ([(1, 2, 3, 4), (9, 9, 9, 255)], "RGBA", [(1, 2, 3, 4), (9, 9, 9, 255)]),
    "RGBa": ([(100, 0, 0, 128), (5, 6, 7, 255)], "RGBA", [(199, 0, 0, 128), (5, 6, 7, 255)]),
    "RGBX": ([(1, 2, 3, 0), (4, 5, 6, 99)], "RGB", [(1, 2, 3), (4, 5, 6)]),
    "CMYK": ([(0, 255, 255, 0), (0, 0, 0, 255)], "RGB", [(255, 0, 0), (0, 0, 0)]),
    "YCbCr": ([(255, 128, 128), (0, 128, 128)], "RGB", [(255, 255, 255), (0, 0, 0)]),
    "HSV": ([(0, 255, 255), (85, 255, 255)], "RGB", [(255, 0, 0), (0, 255, 0)]),
    "LAB": ([(255, 128, 128), (0, 128, 128)], "RGB", [(254, 255, 254), (0, 0, 0)]),
    # 16-bit grey: scaled to 8 bits (65535 -> 255, 32768 -> 128), never clipped to white.
    "I;16": ([0, 257, 32768, 40000, 65535], "L", [0, 1, 128, 156, 255]),
    "I;16B": ([0, 257, 32768, 40000, 65535], "L", [0, 1, 128, 156, 255]),
    "I;16L": ([0, 257, 32768, 40000, 65535], "L", [0, 1, 128, 156, 255]),
    "I;16N": ([0, 257, 32768, 40000, 65535], "L", [0, 1, 128, 156, 255]),
    "I": ([0, 257, 32768, 65535], "L", [0, 1, 128, 255]),  # what 16-bit PNGs decoded to before Pillow 10
}
REFUSED: dict[str, tuple[list[Any], str]] = {
    "F": ([0.0, 0.5], "uses the F pixel format, which I cannot convert"),
}


def test_the_tables_cover_every_pillow_mode() -> None:
    assert set(CONVERTED) | set(REFUSED) == set(Image.MODES)


@pytest.mark.parametrize("mode", sorted(CONVERTED))
def test_mode_is_converted_with_values_scaled(mode: str) -> None:
    pixels, expected_mode, expected = CONVERTED[mode]
    palette = RED_PALETTE if mode in ("P", "PA") else None
    converted = standard_mode(_image(mode, pixels, palette))
    assert converted.mode == expected_mode
    got = _pixels(converted)
    if mode == "LAB":  # a colour-space conversion: allow its rounding
        assert all(
            abs(a - b) <= 2 for g, e in zip(got, expected, strict=True) for a, b in zip(g, e, strict=True)
        )
    else:
        assert got == expected


@pytest.mark.parametrize("mode", sorted(REFUSED))
def test_mode_without_a_faithful_conversion_is_refused(mode: str) -> None:
    pixels, message = REFUSED[mode]
    with pytest.raises(InvalidInput) as info:
        standard_mode(_image(mode, pixels), "`image` attachment (x.tif)")
    assert info.value.user_message == (
        f"The `image` attachment (x.tif) {message}; save it as an ordinary PNG or JPEG."
    )


def test_32_bit_values_are_refused_not_clipped() -> None:
    with pytest.raises(InvalidInput, match="32-bit pixel values"):
        standard_mode(_image("I", [0, 70_000]))


def _saved(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _decoded(data: bytes) -> Image.Image:
    result = normalise_image(data)
    image = Image.open(io.BytesIO(result.data))
    image.load()
    return image


# Files as real tools write them: the decoded mode, then what arrives at ComfyUI.
FILES: dict[str, tuple[bytes, str, list[Any]]] = {
    "16-bit grey PNG (the grey photo that came out white)": (
        _saved(_image("I;16", [16448, 32896, 65535]), "PNG"),
        "L",
        [64, 128, 255],
    ),
    "16-bit grey PNG with a transparent level": (
        _saved(_image("I;16", [1000, 65535]), "PNG", transparency=1000),
        "LA",
        [(4, 0), (255, 255)],
    ),
    "1-bit PNG": (_saved(_image("1", [0, 1]), "PNG"), "L", [0, 255]),
    "palette PNG": (_saved(_image("P", [1, 0], RED_PALETTE), "PNG"), "RGB", [(255, 0, 0), (0, 0, 0)]),
    "palette PNG with a transparent index": (
        _saved(_image("P", [1, 0], RED_PALETTE), "PNG", transparency=0),
        "RGBA",
        [(255, 0, 0, 255), (0, 0, 0, 0)],
    ),
    "grey PNG with a transparent level": (
        _saved(_image("L", [7, 9]), "PNG", transparency=7),
        "LA",
        [(7, 0), (9, 255)],
    ),
    "RGB PNG with a transparent colour": (
        _saved(_image("RGB", [(1, 2, 3), (4, 5, 6)]), "PNG", transparency=(1, 2, 3)),
        "RGBA",
        [(1, 2, 3, 0), (4, 5, 6, 255)],
    ),
    "grey+alpha PNG": (_saved(_image("LA", [(5, 100), (6, 0)]), "PNG"), "LA", [(5, 100), (6, 0)]),
    "CMYK JPEG": (
        _saved(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG", quality=100),
        "RGB",
        [(255, 0, 0)] * 8,
    ),
    "greyscale JPEG": (_saved(Image.new("L", (8, 8), 77), "JPEG", quality=100), "L", [77] * 8),
    "1-bit BMP": (_saved(_image("1", [1, 0]), "BMP"), "L", [255, 0]),
    "palette BMP": (_saved(_image("P", [1, 0], RED_PALETTE), "BMP"), "RGB", [(255, 0, 0), (0, 0, 0)]),
    "GIF with a transparent index": (
        _saved(_image("P", [1, 0], RED_PALETTE), "GIF", transparency=0),
        "RGBA",
        [(255, 0, 0, 255), (0, 0, 0, 0)],
    ),
    "lossless WebP with alpha": (
        _saved(_image("RGBA", [(200, 10, 10, 50), (1, 2, 3, 255)]), "WEBP", lossless=True),
        "RGBA",
        [(200, 10, 10, 50), (1, 2, 3, 255)],
    ),
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_files_of_every_kind_arrive_faithfully(name: str) -> None:
    data, mode, expected = FILES[name]
    image = _decoded(data)
    assert image.format == "PNG"
    assert image.mode == mode
    assert _pixels(image) == expected


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims these dimensions (the pixels never come)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        ((20_000, 8), "20000x8"),
        ((8, 20_000), "8x20000"),
        ((4097, 1), "4097x1"),
        ((5000, 3000), "5000x3000"),
    ],
)
def test_each_side_is_capped_before_decoding(size: tuple[int, int], shown: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalise_image(_png_header(*size), what="`image` attachment (strip.png)")
    assert info.value.user_message == (
        f"The `image` attachment (strip.png) is {shown} pixels; each side may be at most 4,096 pixels. "
        "Crop or shrink it and send it again."
    )


def test_a_side_at_the_cap_is_accepted_and_the_cap_is_a_setting() -> None:
    assert DEFAULT_MAX_SIDE == 4096
    strip = _saved(Image.new("L", (4096, 2), 9), "PNG")
    assert (normalise_image(strip).width, normalise_image(strip).height) == (4096, 2)
    with pytest.raises(InvalidInput, match="each side may be at most 1,000 pixels"):
        normalise_image(strip, max_side=1000)


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"\x89PNG\r\n\x1a\n....", "PNG"),
        (b"\xff\xd8\xff\xe0....", "JPEG"),
        (b"GIF89a..", "GIF"),
        (b"GIF87a..", "GIF"),
        (b"BM......", "BMP"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WEBP"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", None),
        (b"%PDF-1.4", None),
        (b"II*\x00....", None),  # TIFF
        (b"", None),
    ],
)
def test_sniff_format(head: bytes, fmt: str | None) -> None:
    assert sniff_format(head) == fmt
