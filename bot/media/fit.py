"""Make one result fit a destination's per-file upload limit, whatever its kind, and say what changed.

* images: WebP, then JPEG, then smaller (``bot.imaging.fit_output``);
* animations: a lossy animated WebP first (it still loops like an animation), then an MP4;
* videos: an MP4 at a lower bitrate, then a smaller picture, then fewer frames (``bot.media.video``);
* audio: Opus at a lower bitrate;
* texts: cut at the limit.

What cannot be made to fit in time becomes its first frame with a note (a video, an animation) or a
note alone (audio): never a failed job. Everything here blocks: ``MediaFitter`` runs it off the loop.
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Final

import av
from PIL import Image, ImageSequence

from bot.errors import InvalidInput
from bot.imaging import fit_output
from bot.media.kinds import OutputKind
from bot.media.video import CannotFit, Clock, FitTimeout, first_frame, fit_video

log = logging.getLogger(__name__)

MiB: Final = 1024 * 1024
AUDIO_BITRATES: Final = (96_000, 64_000, 32_000, 16_000)
WEBP_TRIES: Final = ((70, 1.0), (55, 0.75))


@dataclass(frozen=True, slots=True)
class Fitted:
    """A result ready to upload: ``data`` within the limit (empty when nothing could be posted), its
    name, kind and type, and the note that tells the member what changed (None: nothing did)."""

    data: bytes
    filename: str
    kind: OutputKind
    mime: str
    note: str | None = None

    @property
    def dropped(self) -> bool:
        return not self.data


def size_words(size: int) -> str:
    """A byte count the way people read it: 512 KB, 9.8 MB."""
    if size >= MiB:
        return f"{size / MiB:.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


def _renamed(filename: str, ext: str) -> str:
    return f"{PurePosixPath(filename).stem}.{ext}"


def fit_media(
    data: bytes,
    filename: str,
    kind: OutputKind,
    mime: str,
    limit: int,
    *,
    deadline: float,
    clock: Clock = time.monotonic,
) -> Fitted:
    """``data`` within ``limit`` bytes, re-encoded as little as needed; never raises for a file that is
    merely too large (it comes back as a still frame or a note)."""
    if len(data) <= limit:
        return Fitted(data, filename, kind, mime)
    if kind is OutputKind.TEXT:
        return _cut_text(data, filename, limit)
    if kind is OutputKind.IMAGE:
        try:
            fitted = fit_output(data, filename, limit)
        except InvalidInput:
            note = f"an image could not be shrunk enough to fit the {size_words(limit)} upload limit"
            return Fitted(b"", filename, kind, mime, f"{note}, so it was not posted")
        out_mime = {"webp": "image/webp", "jpg": "image/jpeg"}.get(fitted.filename.rsplit(".", 1)[-1], mime)
        return Fitted(fitted.data, fitted.filename, kind, out_mime, fitted.note)
    what = {OutputKind.VIDEO: "video", OutputKind.ANIMATION: "animation", OutputKind.AUDIO: "audio"}[kind]
    try:
        if kind is OutputKind.AUDIO:
            return _fit_audio(data, filename, limit, deadline, clock)
        if kind is OutputKind.ANIMATION:
            smaller = _smaller_webp(data, filename, limit, deadline, clock)
            if smaller is not None:
                return smaller
        encoded, clip = fit_video(data, limit, deadline=deadline, clock=clock)
        change = "converted to MP4" if kind is OutputKind.ANIMATION else "re-encoded"
        note = f"{what} {change} ({encoded.describe(clip)}) to fit the {size_words(limit)} upload limit"
        return Fitted(encoded.data, _renamed(filename, "mp4"), OutputKind.VIDEO, "video/mp4", note)
    except FitTimeout:
        reason = "could not be shrunk in time"
    except CannotFit:
        reason = "could not be shrunk enough"
    except (OSError, ValueError, av.FFmpegError) as exc:  # damaged or unreadable: say so, keep the job
        log.warning("could not re-encode %s: %s", filename, exc)
        reason = "could not be re-encoded"
    return _still(data, filename, kind, limit, f"the {what} ({size_words(len(data))}) {reason}")


def _still(data: bytes, filename: str, kind: OutputKind, limit: int, why: str) -> Fitted:
    """The first frame instead of a clip that cannot be posted; a note alone for audio."""
    over = f"{why} to fit the {size_words(limit)} upload limit"
    if kind is not OutputKind.AUDIO:
        try:
            frame = first_frame(data)
            buffer = io.BytesIO()
            frame.save(buffer, format="PNG")
            fitted = fit_output(buffer.getvalue(), _renamed(filename, "png"), limit)
            mime = {"webp": "image/webp", "jpg": "image/jpeg"}.get(
                fitted.filename.rsplit(".", 1)[-1], "image/png"
            )
            return Fitted(
                fitted.data, fitted.filename, OutputKind.IMAGE, mime, f"{over}: here is its first frame"
            )
        except (OSError, ValueError, InvalidInput, av.FFmpegError) as exc:
            log.warning("no still frame from %s: %s", filename, exc)
    return Fitted(b"", filename, kind, "", f"{over}, so it was not posted")


def _cut_text(data: bytes, filename: str, limit: int) -> Fitted:
    cut = data[:limit].decode("utf-8", errors="ignore").encode()
    return Fitted(cut, filename, OutputKind.TEXT, "text/plain", f"the text was cut to {size_words(limit)}")


def _smaller_webp(data: bytes, filename: str, limit: int, deadline: float, clock: Clock) -> Fitted | None:
    """The animation as a lossy animated WebP, if one fits (it keeps looping in the chat like a GIF)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            frames = [frame.convert("RGB") for frame in ImageSequence.Iterator(image)]
            durations = [frame.info.get("duration", 100) or 100 for frame in ImageSequence.Iterator(image)]
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    for quality, scale in WEBP_TRIES:
        if clock() > deadline:
            raise FitTimeout
        size = (max(2, int(frames[0].width * scale)), max(2, int(frames[0].height * scale)))
        shown = [f if scale == 1.0 else f.resize(size) for f in frames]
        buffer = io.BytesIO()
        shown[0].save(
            buffer, format="WEBP", save_all=True, append_images=shown[1:], duration=durations, quality=quality
        )
        if buffer.tell() <= limit:
            change = "smaller" if scale == 1.0 else f"{size[0]}x{size[1]}"
            note = f"animation re-encoded ({change}) to fit the {size_words(limit)} upload limit"
            return Fitted(
                buffer.getvalue(), _renamed(filename, "webp"), OutputKind.ANIMATION, "image/webp", note
            )
    return None


def _fit_audio(data: bytes, filename: str, limit: int, deadline: float, clock: Clock) -> Fitted:
    with av.open(io.BytesIO(data), mode="r") as probe:
        duration = float(probe.duration / av.time_base) if probe.duration else 0.0
    if duration <= 0:
        raise CannotFit("unknown duration")
    for bitrate in AUDIO_BITRATES:
        if bitrate * duration / 8 > limit * 0.95:
            continue
        encoded = _encode_opus(data, bitrate, deadline, clock)
        if len(encoded) <= limit:
            change = f"{bitrate // 1000} kbit/s Opus"
            note = f"audio re-encoded ({change}) to fit the {size_words(limit)} upload limit"
            return Fitted(encoded, _renamed(filename, "ogg"), OutputKind.AUDIO, "audio/ogg", note)
    raise CannotFit("even the lowest bitrate is too large")


def _encode_opus(data: bytes, bitrate: int, deadline: float, clock: Clock) -> bytes:
    out = io.BytesIO()
    with av.open(io.BytesIO(data), mode="r") as source, av.open(out, mode="w", format="ogg") as target:
        audio = source.streams.audio[0]
        stream = target.add_stream("libopus", rate=48000)
        layout = audio.codec_context.layout.name
        stream.layout = layout if layout in ("mono", "stereo") else "stereo"
        stream.bit_rate = bitrate
        codec = stream.codec_context
        resampler = av.AudioResampler(
            format=codec.format, layout=codec.layout, rate=48000, frame_size=codec.frame_size or None
        )
        for frame in source.decode(audio):
            if clock() > deadline:
                raise FitTimeout
            frame.pts = None
            for piece in resampler.resample(frame):
                target.mux(stream.encode(piece))
        for piece in resampler.resample(None):
            target.mux(stream.encode(piece))
        target.mux(stream.encode(None))
    return out.getvalue()
