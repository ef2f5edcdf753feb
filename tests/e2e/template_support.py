"""Helpers for the /template end-to-end tests: files to upload, answers to read, conditions to wait for."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.templates.folder import write_atomically
from tests.e2e.harness import WORKFLOWS
from tests.e2e.moderation_support import reply_of
from tests.fakes.discord.server import FakeDiscord

SKETCH_TOML = """
[command]
name = "sketch"
description = "A quick sketch"

[params.prompt]
type = "text"
description = "What to draw"
required = true
target = "Positive Prompt.text"

[params.steps]
type = "int"
description = "Steps"
default = 3
min = 1
max = 10
target = "KSampler.steps"

[params.seed]
type = "seed"
description = "Seed"
target = "KSampler.seed"

[outputs]
nodes = ["Save Image"]
"""


def sketch_json(cfg: float = 8.0) -> bytes:
    """The bundled /imagine graph with its sampler's cfg set: versions of a template differ by it."""
    graph = json.loads((WORKFLOWS / "imagine.json").read_text())
    graph["3"]["inputs"]["cfg"] = cfg
    return json.dumps(graph, indent=2).encode()


def upload(name: str, data: bytes | str, content_type: str = "application/json") -> tuple[str, bytes, str]:
    return name, data.encode() if isinstance(data, str) else data, content_type


async def template_command(
    fake: FakeDiscord,
    sub: str,
    options: dict[str, Any] | None = None,
    *,
    user: Any = None,
    timeout: float = 10.0,
) -> tuple[str, Any]:
    """Run ``/template <sub>`` (as the owner unless ``user``); the private answer's text and the record."""
    record = await fake.slash(f"template {sub}", options or {}, user=user or fake.owner)
    return await reply_of(fake, record, timeout=timeout), record


def write_file(path: Path, text: str) -> None:
    """Change a workflow file the way an editor that saves atomically does."""
    write_atomically(path, text.encode())


async def until(condition: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll ``condition`` (sync) until it is truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
    return result


def command_syncs(fake: FakeDiscord) -> list[Any]:
    """Every bulk command sync the bot sent (global or guild), answered or not."""
    return list(fake.calls("PUT", "/applications/*/commands")) + list(
        fake.calls("PUT", "/applications/*/guilds/*/commands")
    )


def dms_to(fake: FakeDiscord, user: Any) -> list[Any]:
    """Messages in ``user``'s DM channel with the bot, oldest first."""
    return fake.channel_messages(fake.dm_channel(user))


def prompt_graphs(fake_comfy: Any, job_id: str) -> list[dict[str, Any]]:
    """The graphs POSTed to the fake ComfyUI for one job."""
    return [
        body["prompt"]
        for body in fake_comfy.prompt_requests
        if isinstance(body, dict) and body.get("extra_data", {}).get("comfycord_job") == job_id
    ]
