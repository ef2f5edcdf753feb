"""Re-encoding videos and animations to fit a byte limit, with PyAV (FFmpeg in its wheels).

The ladder, in the order a viewer minds least: a lower bitrate at the same size and frame rate; where
that bitrate would leave too few bits for each pixel, a smaller picture; where even that is not enough,
fewer frames per second. The output is H.264 in MP4 (AAC audio if the source had sound), which every
Discord client plays inline. Encoding is checked against a deadline between frames, so a time limit
holds however long the clip is. Everything here blocks: run it in a worker thread.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final

import av
from PIL import Image, ImageSequence

log = logging.getLogger(__name__)

Clock = Callable[[], float]

CONTAINER_MARGIN: Final = 0.92
"""Share of the byte budget given to the streams: MP4 boxes and rate-control overshoot take the rest."""
MIN_BITS_PER_PIXEL: Final = 0.04
"""Below this many bits per pixel and frame H.264 turns to mush: shrink the picture instead."""
MIN_SHORT_SIDE: Final = 144
MIN_FPS: Final = 6.0
AUDIO_BITRATE: Final = 64_000
MIN_VIDEO_BITRATE: Final = 24_000
MAX_TRIES: Final = 4


class FitTimeout(Exception):
    """The time limit passed before the clip could be made to fit."""


class CannotFit(Exception):
    """Even the smallest picture and the lowest frame rate the ladder allows do not fit."""


@dataclass(frozen=True, slots=True)
class Clip:
    """What is known of a video or animation before re-encoding it."""

    width: int
    height: int
    fps: float
    duration: float
    has_audio: bool


@dataclass(frozen=True, slots=True)
class Encoded:
    """A re-encoded clip and the settings that made it fit."""

    data: bytes
    width: int
    height: int
    fps: float
    bitrate: int

    def describe(self, clip: Clip) -> str:
        """What changed, in words a member understands."""
        parts = [f"{self.bitrate / 1000:.0f} kbit/s"]
        if (self.width, self.height) != (clip.width, clip.height):
            parts.append(f"{self.width}x{self.height}")
        if self.fps < clip.fps - 0.01:
            parts.append(f"{self.fps:g} fps")
        return ", ".join(parts)


# --- reading ---------------------------------------------------------------------------------------------


def _is_animated_image(data: bytes) -> bool:
    head = data[:16]
    return head.startswith((b"\x89PNG", b"GIF8")) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def probe(data: bytes) -> Clip:
    """Size, frame rate, duration and sound of a video file or an animated image."""
    if _is_animated_image(data):
        with Image.open(io.BytesIO(data)) as image:
            durations = [frame.info.get("duration", 100) or 100 for frame in ImageSequence.Iterator(image)]
            total = sum(durations) / 1000.0
            fps = len(durations) / total if total > 0 else 10.0
            return Clip(image.width, image.height, fps, total, False)
    with av.open(io.BytesIO(data), mode="r") as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(24)
        duration = float(container.duration / av.time_base) if container.duration else 0.0
        if duration <= 0 and stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        return Clip(
            stream.codec_context.width,
            stream.codec_context.height,
            float(rate),
            max(duration, 1.0 / float(rate)),
            bool(container.streams.audio),
        )


def first_frame(data: bytes) -> Image.Image:
    """The first picture of a video or animation, as RGB."""
    if _is_animated_image(data):
        with Image.open(io.BytesIO(data)) as image:
            return image.convert("RGB")
    with av.open(io.BytesIO(data), mode="r") as container:
        for frame in container.decode(video=0):
            picture: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
            return picture.convert("RGB")
    raise ValueError("the video has no frames")


def sample_frames(data: bytes, count: int = 3) -> list[Image.Image]:
    """Up to ``count`` pictures spread over a video or animation (its start, middle and end), for an
    image checker: one frame alone would let anything after it through."""
    if _is_animated_image(data):
        with Image.open(io.BytesIO(data)) as image:
            total = getattr(image, "n_frames", 1)
            picks = sorted({round(i * (total - 1) / max(1, count - 1)) for i in range(count)})
            frames = []
            for index in picks:
                image.seek(index)
                frames.append(image.convert("RGB"))
            return frames
    clip = probe(data)
    frames = []
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        for i in range(count):
            at = clip.duration * i / max(1, count - 1) * 0.98
            if stream.time_base:
                container.seek(int(at / stream.time_base), stream=stream, any_frame=False, backward=True)
            last = None
            for frame in container.decode(stream):  # from the key frame before ``at`` up to it
                last = frame
                if frame.time is None or frame.time + 0.5 / clip.fps >= at:
                    break
            if last is not None:
                picture: Image.Image = last.to_image()  # type: ignore[no-untyped-call]
                frames.append(picture.convert("RGB"))
    return frames or [first_frame(data)]


def _image_frames(data: bytes) -> Iterator[tuple[float, Any]]:
    """(time in seconds, PIL frame) of an animated image."""
    with Image.open(io.BytesIO(data)) as image:
        at = 0.0
        for frame in ImageSequence.Iterator(image):
            yield at, frame.convert("RGB")
            at += (frame.info.get("duration", 100) or 100) / 1000.0


# --- writing ---------------------------------------------------------------------------------------------


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def plan(clip: Clip, limit: int) -> tuple[int, int, int, float]:
    """(width, height, video bitrate, fps) for a first try at fitting ``clip`` into ``limit`` bytes.

    Raises CannotFit when even the floor of the ladder does not leave a usable bitrate.
    """
    budget = limit * 8 * CONTAINER_MARGIN / clip.duration
    bitrate = int(budget - (AUDIO_BITRATE if clip.has_audio else 0))
    if bitrate < MIN_VIDEO_BITRATE:
        raise CannotFit(f"{limit} bytes for {clip.duration:.1f}s leaves {bitrate} bit/s")
    width, height, fps = float(clip.width), float(clip.height), clip.fps

    def bpp() -> float:
        return bitrate / (width * height * fps)

    while bpp() < MIN_BITS_PER_PIXEL and min(width, height) * 0.75 >= MIN_SHORT_SIDE:
        width, height = width * 0.75, height * 0.75
    while bpp() < MIN_BITS_PER_PIXEL and fps / 2 >= MIN_FPS:
        fps /= 2
    return _even(width), _even(height), bitrate, round(fps, 3)


class _Writer:
    """One MP4 being written: H.264 video (and AAC audio when the source has sound)."""

    def __init__(
        self, width: int, height: int, fps: float, bitrate: int, audio_rate: int | None, audio_layout: str
    ) -> None:
        # A real file: moving the index to the front (so players start before the whole file is
        # there) rewrites the file, which FFmpeg cannot do in a memory buffer.
        self._folder = tempfile.TemporaryDirectory(prefix="comfycord-fit-")
        self.path = os.path.join(self._folder.name, "out.mp4")
        self.container = av.open(self.path, mode="w", format="mp4", options={"movflags": "+faststart"})
        self.closed = False
        self.rate = Fraction(round(fps * 1000), 1000)
        self.video = self.container.add_stream("libx264", rate=self.rate)
        self.video.width, self.video.height = width, height
        self.video.pix_fmt = "yuv420p"
        self.video.bit_rate = bitrate
        self.video.options = {
            "preset": "veryfast",
            "maxrate": str(bitrate),
            "bufsize": str(bitrate),
            "x264-params": "nal-hrd=none",
        }
        self.audio = None
        self.resampler = None
        if audio_rate is not None:
            self.audio = self.container.add_stream("aac", rate=audio_rate)
            self.audio.layout = audio_layout
            self.audio.bit_rate = AUDIO_BITRATE
            codec = self.audio.codec_context
            self.resampler = av.AudioResampler(
                format=codec.format, layout=codec.layout, rate=audio_rate, frame_size=codec.frame_size or None
            )
        self.index = 0

    def picture(self, frame: Any) -> None:
        if isinstance(frame, Image.Image):
            frame = av.VideoFrame.from_image(frame)  # type: ignore[no-untyped-call]
        scaled = frame.reformat(width=self.video.width, height=self.video.height, format="yuv420p")
        scaled.pts = self.index
        scaled.time_base = 1 / self.rate
        self.index += 1
        self.container.mux(self.video.encode(scaled))

    def sound(self, frame: Any) -> None:
        if self.audio is None or self.resampler is None:
            return
        frame.pts = None
        for piece in self.resampler.resample(frame):
            self.container.mux(self.audio.encode(piece))

    def finish(self) -> bytes:
        """Flush the encoders, write the file and return its bytes."""
        self.container.mux(self.video.encode(None))
        if self.audio is not None and self.resampler is not None:
            for piece in self.resampler.resample(None):
                self.container.mux(self.audio.encode(piece))
            self.container.mux(self.audio.encode(None))
        self.container.close()
        self.closed = True
        with open(self.path, "rb") as file:
            return file.read()

    def discard(self) -> None:
        """Close (if still open) and remove the temporary file."""
        if not self.closed:
            self.closed = True
            with contextlib.suppress(av.FFmpegError, OSError, ValueError):
                self.container.close()
        self._folder.cleanup()


def _encode(
    data: bytes, clip: Clip, width: int, height: int, bitrate: int, fps: float, deadline: float, clock: Clock
) -> bytes:
    """One pass over the source into a new MP4, dropping frames to ``fps``."""
    step = 1.0 / fps
    next_slot = 0.0

    def due(at: float) -> bool:
        nonlocal next_slot
        if at + 1e-6 < next_slot:
            return False
        next_slot += step
        while next_slot <= at:  # a long frame of an animation covers several slots
            next_slot += step
        return True

    if _is_animated_image(data):
        writer = _Writer(width, height, fps, bitrate, None, "stereo")
        try:
            for at, image in _image_frames(data):
                if clock() > deadline:
                    raise FitTimeout
                if due(at):
                    writer.picture(image)
            return writer.finish()
        finally:
            writer.discard()
    with av.open(io.BytesIO(data), mode="r") as source:
        video = source.streams.video[0]
        audio = source.streams.audio[0] if source.streams.audio else None
        audio_rate = audio.codec_context.sample_rate if audio is not None else None
        layout = audio.codec_context.layout.name if audio is not None else "stereo"
        writer = _Writer(
            width, height, fps, bitrate, audio_rate, layout if layout in ("mono", "stereo") else "stereo"
        )
        try:
            streams = [video] if audio is None else [video, audio]
            for packet in source.demux(*streams):
                if clock() > deadline:
                    raise FitTimeout
                for frame in packet.decode():
                    if isinstance(frame, av.VideoFrame):
                        at = float(frame.time) if frame.time is not None else next_slot
                        if due(at):
                            writer.picture(frame)
                    elif isinstance(frame, av.AudioFrame):
                        writer.sound(frame)
            return writer.finish()
        finally:
            writer.discard()


def fit_video(
    data: bytes, limit: int, *, deadline: float, clock: Clock = time.monotonic
) -> tuple[Encoded, Clip]:
    """``data`` (a video or an animated image) as an MP4 of at most ``limit`` bytes.

    Raises CannotFit or FitTimeout; the caller falls back to a still frame.
    """
    clip = probe(data)
    width, height, bitrate, fps = plan(clip, limit)
    for attempt in range(1, MAX_TRIES + 1):
        encoded = _encode(data, clip, width, height, bitrate, fps, deadline, clock)
        log.debug(
            "fit try %d: %dx%d %g fps %d bit/s -> %d bytes",
            attempt,
            width,
            height,
            fps,
            bitrate,
            len(encoded),
        )
        if len(encoded) <= limit:
            return Encoded(encoded, width, height, fps, bitrate), clip
        # Rate control overshot (short clips do): aim lower by what it missed, plus a margin.
        bitrate = int(bitrate * limit / len(encoded) * 0.85)
        if bitrate < MIN_VIDEO_BITRATE:
            break
        if bitrate / (width * height * fps) < MIN_BITS_PER_PIXEL:
            if min(width, height) * 0.75 >= MIN_SHORT_SIDE:
                width, height = _even(width * 0.75), _even(height * 0.75)
            elif fps / 2 >= MIN_FPS:
                fps = round(fps / 2, 3)
    raise CannotFit(f"{len(data)} bytes could not be brought under {limit}")
