"""Fitting a video under Discord's default upload limit.

* ``video_fit_s``: seconds to bring a 30 MB MP4 (H.264 + AAC, 640x360, 24 fps, busy picture) under
  10 MiB with ``fit_media``, the work a delivery hands the media worker thread. Median of the runs.
* ``video_fit``: the sizes, what the fit changed, and that the result decodes (every frame counted).
"""

from __future__ import annotations

import io
import math
import random
import statistics
import struct
import time
from typing import Any

import av
from PIL import Image

from bot.media import OutputKind
from bot.media.fit import fit_media

MiB = 1024 * 1024
SOURCE_BYTES = 30 * 1000 * 1000
LIMIT = 10 * MiB
WIDTH, HEIGHT, FPS = 640, 360, 24


def _tone(seconds: float, rate: int = 48000) -> bytes:
    count = int(seconds * rate)
    return b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(count)
    )


def make_source(target: int = SOURCE_BYTES) -> bytes:
    """An MP4 of at least ``target`` bytes: noisy frames at high quality, with a soundtrack."""
    rng = random.Random(14)
    pictures = [Image.frombytes("RGB", (WIDTH, HEIGHT), rng.randbytes(WIDTH * HEIGHT * 3)) for _ in range(6)]
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.options = {"crf": "12", "preset": "ultrafast"}
        audio = container.add_stream("aac", rate=48000)
        audio.layout = "mono"
        frames = written = 0
        while written < target * 0.99:
            frame = av.VideoFrame.from_image(pictures[frames % len(pictures)])
            packets = video.encode(frame)
            written += sum(p.size for p in packets)
            container.mux(packets)
            frames += 1
        container.mux(video.encode(None))
        sound = av.AudioFrame(format="s16", layout="mono", samples=int(frames / FPS * 48000))
        sound.planes[0].update(_tone(frames / FPS))
        sound.sample_rate = 48000
        codec = audio.codec_context
        resampler = av.AudioResampler(
            format=codec.format, layout=codec.layout, rate=48000, frame_size=codec.frame_size
        )
        for piece in [*resampler.resample(sound), *resampler.resample(None)]:
            container.mux(audio.encode(piece))
        container.mux(audio.encode(None))
    return out.getvalue()


def _frames(data: bytes) -> int:
    with av.open(io.BytesIO(data), mode="r") as container:
        return sum(1 for _ in container.decode(video=0))


def run(runs: int) -> dict[str, Any]:
    source = make_source()
    seconds: list[float] = []
    fitted = None
    for _ in range(runs):
        started = time.monotonic()
        fitted = fit_media(source, "clip.mp4", OutputKind.VIDEO, "video/mp4", LIMIT, deadline=started + 600)
        seconds.append(time.monotonic() - started)
    assert fitted is not None
    return {
        "video_fit_s": round(statistics.median(seconds), 2),
        "video_fit": {
            "source_mb": round(len(source) / 1e6, 1),
            "source_frames": _frames(source),
            "limit_mib": LIMIT / MiB,
            "result_mib": round(len(fitted.data) / MiB, 2),
            "result_frames": _frames(fitted.data) if fitted.kind is OutputKind.VIDEO else 0,
            "note": fitted.note,
            "runs": [round(s, 2) for s in seconds],
        },
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(1), indent=2))
