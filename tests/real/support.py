"""Helpers of the real tier: the CLI as a subprocess, known pictures, and what a status message said."""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from bot.jobmodel.states import JobState
from tests.e2e.harness import BotUnderTest, embed_text, job_id_of, status_of
from tests.fakes.comfyui.images import invert

ROOT = Path(__file__).resolve().parents[2]


async def run_cli(
    *args: str, backends: list[str], workflows_dir: Path, cwd: Path, timeout: float = 300
) -> tuple[int, str, str]:
    """``python -m bot ARGS`` as a user runs it, against ``backends``: (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMFYUI_", "DISCORD_", "LOG_"))}
    env.update(
        {
            "COMFYUI_URLS": ",".join(backends),
            "PYTHONPATH": str(ROOT),
            "WORKFLOWS_DIR": str(workflows_dir),
            "DATA_DIR": str(cwd / "data"),
            "COMFYUI_TIMEOUT": "30",
        }
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


# --- pictures ------------------------------------------------------------------------------------------


def encode(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def pattern(size: tuple[int, int] = (68, 52)) -> Image.Image:
    """An RGB picture with a different colour in every pixel (so any shift or scaling shows)."""
    width, height = size
    image = Image.new("RGB", size)
    image.putdata(
        [((x * 7) % 256, (y * 11) % 256, (x * y + 40) % 256) for y in range(height) for x in range(width)]
    )
    return image


def half_mask(size: tuple[int, int] = (68, 52)) -> Image.Image:
    """Black, with the left half white (white = repaint)."""
    mask = Image.new("RGB", size, (0, 0, 0))
    mask.paste((255, 255, 255), (0, 0, size[0] // 2, size[1]))
    return mask


def decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        copy = image.copy()
        copy.format = image.format  # (copy() forgets it)
        return copy


def inverted(image: Image.Image) -> Image.Image:
    """What ComfyUI's LoadImage -> ImageInvert -> save gives: 255 - v, except where float32 rounding
    truncates to one less (the fake ComfyUI's table, which this tier checks against the real one)."""
    return invert(image)


# --- what the member saw ------------------------------------------------------------------------------

PERCENT = re.compile(r"` (\d+)%")
STEP = re.compile(r"step (\d+)/(\d+)")


@dataclass(frozen=True, slots=True)
class Shown:
    """One version of a status message while the job ran."""

    title: str
    percent: int | None
    node: str | None
    step: tuple[int, int] | None
    preview: bool


def shown(snapshot: dict[str, Any]) -> Shown | None:
    """The progress a status message showed (None for versions that are not progress)."""
    embeds = snapshot.get("embeds") or []
    if not embeds:
        return None
    embed = embeds[0]
    title = str(embed.get("title", ""))
    field = next((f for f in embed.get("fields", []) if f.get("name") == "Progress"), None)
    if field is None:
        return None
    value = str(field["value"])
    lines = value.splitlines()
    percent = PERCENT.search(value)
    step = STEP.search(value)
    node = lines[1].split(" · ")[0] if len(lines) > 1 and not lines[1].startswith("elapsed") else None
    attachments = snapshot.get("attachments") or []
    return Shown(
        title=title,
        percent=int(percent.group(1)) if percent else None,
        node=node,
        step=(int(step.group(1)), int(step.group(2))) if step else None,
        preview="preview.jpg" in attachments or bool(embed.get("image")),
    )


def versions(message: Any) -> list[dict[str, Any]]:
    """Every version of a fake-Discord message, oldest first, the current one last."""
    return [*message.history, message.snapshot() | {"embeds": message.embeds}]


def backwards(values: Iterable[Any]) -> list[tuple[Any, Any]]:
    """Consecutive pairs where the second is smaller than the first."""
    seen = [v for v in values if v is not None]
    return [(a, b) for a, b in itertools.pairwise(seen) if b < a]


async def command(
    bot: BotUnderTest, name: str, options: dict[str, Any], *, files: dict[str, Image.Image] | None = None
) -> tuple[Any, str]:
    """Run a slash command; (its status message, the job id)."""
    attachments = {
        param: (f"{param}.png", encode(image), "image/png") for param, image in (files or {}).items()
    }
    record = await bot.fake.slash(name, options, attachments=attachments or None)
    message = await status_of(bot.fake, record, timeout=30)
    return message, job_id_of(message)


async def delivered(bot: BotUnderTest, job_id: str, timeout: float = 240) -> Any:
    return await bot.wait_job(job_id, JobState.DELIVERED, timeout=timeout)


async def ended_with(bot: BotUnderTest, message: Any, word: str, timeout: float = 120) -> str:
    """Wait until the status message's title says ``word``; its whole text."""
    await bot.fake.wait_for(lambda: word in embed_text(bot.fake.message(message.id)), timeout=timeout)
    return embed_text(bot.fake.message(message.id))


async def poll(check: Callable[[], Awaitable[Any]], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout:g}s")
        await asyncio.sleep(0.1)
