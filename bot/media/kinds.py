"""What a result file is, told by its bytes first and its name second: image, animation, video, audio, text.

ComfyUI lists every file a node wrote under some key of its output (``images`` for stills, animated
WebP/PNG and even videos, ``gifs`` for VideoHelperSuite, ``audio`` for audio nodes), so the key and the
node's class say little. The bytes say what the file is; a still PNG and an animated one differ only
inside (an ``acTL`` chunk), as do a still WebP and an animated one (``ANIM``) or a one-frame GIF.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Final

from PIL import Image


class OutputKind(StrEnum):
    """The kinds of results a job can deliver."""

    IMAGE = "image"
    ANIMATION = "animation"
    VIDEO = "video"
    AUDIO = "audio"
    TEXT = "text"

    @property
    def visual(self) -> bool:
        """Shown as media (a gallery item, an inline player), not as a file or text."""
        return self in (OutputKind.IMAGE, OutputKind.ANIMATION, OutputKind.VIDEO)


@dataclass(frozen=True, slots=True)
class FileType:
    """A recognised file: its kind, MIME type and the extension to store and post it under."""

    kind: OutputKind
    mime: str
    ext: str


TEXT_TYPE: Final = FileType(OutputKind.TEXT, "text/plain", "txt")

_BY_EXTENSION: Final[dict[str, FileType]] = {
    "png": FileType(OutputKind.IMAGE, "image/png", "png"),
    "jpg": FileType(OutputKind.IMAGE, "image/jpeg", "jpg"),
    "jpeg": FileType(OutputKind.IMAGE, "image/jpeg", "jpg"),
    "webp": FileType(OutputKind.IMAGE, "image/webp", "webp"),
    "gif": FileType(OutputKind.ANIMATION, "image/gif", "gif"),
    "apng": FileType(OutputKind.ANIMATION, "image/apng", "png"),
    "mp4": FileType(OutputKind.VIDEO, "video/mp4", "mp4"),
    "m4v": FileType(OutputKind.VIDEO, "video/mp4", "mp4"),
    "webm": FileType(OutputKind.VIDEO, "video/webm", "webm"),
    "mov": FileType(OutputKind.VIDEO, "video/quicktime", "mov"),
    "mkv": FileType(OutputKind.VIDEO, "video/x-matroska", "mkv"),
    "flac": FileType(OutputKind.AUDIO, "audio/flac", "flac"),
    "mp3": FileType(OutputKind.AUDIO, "audio/mpeg", "mp3"),
    "wav": FileType(OutputKind.AUDIO, "audio/wav", "wav"),
    "ogg": FileType(OutputKind.AUDIO, "audio/ogg", "ogg"),
    "opus": FileType(OutputKind.AUDIO, "audio/ogg", "opus"),
    "m4a": FileType(OutputKind.AUDIO, "audio/mp4", "m4a"),
    "txt": TEXT_TYPE,
}
_BY_MIME: Final = {t.mime: t for t in _BY_EXTENSION.values()}


def _png_animated(data: bytes) -> bool:
    """An APNG has an ``acTL`` chunk before its first ``IDAT``."""
    offset = 8
    while offset + 8 <= len(data):
        length, chunk = struct.unpack(">I4s", data[offset : offset + 8])
        if chunk == b"acTL":
            return True
        if chunk in (b"IDAT", b"IEND"):
            return False
        offset += 12 + length
    return False


def _webp_animated(data: bytes) -> bool:
    """A WebP is animated when its extended header (``VP8X``) has the animation flag."""
    return data[12:16] == b"VP8X" and len(data) > 20 and bool(data[20] & 0x02)


def _gif_animated(data: bytes) -> bool:
    """A GIF with more than one frame (Pillow walks the blocks; no pixel is decoded)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return bool(getattr(image, "is_animated", False))
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def _sniff(data: bytes) -> FileType | None:
    head = data[:64]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        if _png_animated(data):
            return FileType(OutputKind.ANIMATION, "image/png", "png")
        return _BY_EXTENSION["png"]
    if head.startswith(b"\xff\xd8\xff"):
        return _BY_EXTENSION["jpg"]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        if _webp_animated(data):
            return FileType(OutputKind.ANIMATION, "image/webp", "webp")
        return _BY_EXTENSION["webp"]
    if head[:6] in (b"GIF87a", b"GIF89a"):
        if _gif_animated(data):
            return _BY_EXTENSION["gif"]
        return FileType(OutputKind.IMAGE, "image/gif", "gif")
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return _BY_EXTENSION["wav"]
    if head[:4] == b"fLaC":
        return _BY_EXTENSION["flac"]
    if head[:4] == b"OggS":
        return _BY_EXTENSION["opus"] if b"OpusHead" in data[:128] else _BY_EXTENSION["ogg"]
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return _BY_EXTENSION["mp3"]
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: WebM or Matroska
        return _BY_EXTENSION["webm"] if b"webm" in data[:64] else _BY_EXTENSION["mkv"]
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return _BY_EXTENSION["mov"]
        if brand in (b"M4A ", b"M4B "):
            return _BY_EXTENSION["m4a"]
        return _BY_EXTENSION["mp4"]
    return None


def file_type(data: bytes, filename: str = "", mime: str | None = None) -> FileType | None:
    """What ``data`` is: by its bytes, else by the server's MIME type, else by ``filename``; None when
    nothing says it is a kind of result this bot posts (a ``.latent``, a ``.safetensors``, ...)."""
    sniffed = _sniff(data)
    if sniffed is not None:
        return sniffed
    if mime:
        known = _BY_MIME.get(mime.split(";")[0].strip().lower())
        if known is not None:
            return known
    ext = PurePosixPath(filename).suffix.lower().lstrip(".")
    return _BY_EXTENSION.get(ext)


def extension_for(mime: str, kind: OutputKind) -> str:
    """The file extension to store a result of type ``mime`` under."""
    if kind is OutputKind.TEXT:
        return "txt"
    if mime == "image/png":
        return "png"
    known = _BY_MIME.get(mime)
    return known.ext if known is not None else "bin"


def extension_type(filename: str) -> FileType | None:
    """What a file name says it is (without looking inside)."""
    return _BY_EXTENSION.get(PurePosixPath(filename).suffix.lower().lstrip("."))
