"""A whole bot (App) on a temporary DATA_DIR, against the fake Discord and fake ComfyUI backends."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.app import App
from bot.config import load_settings
from bot.jobs.states import JobState
from tests.fakes.discord.server import FakeDiscord

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4." + "G" * 6 + "." + "x" * 38


def settings_for(data_dir: Path, backends: list[str], **env: str) -> Any:
    values = {
        "DISCORD_TOKEN": TOKEN,
        "COMFYUI_URLS": ",".join(backends),
        "DATA_DIR": str(data_dir),
        "WORKFLOWS_DIR": str(WORKFLOWS),
        "EDIT_INTERVAL": "0.5",
        "COMFYUI_TIMEOUT": "5",
        **env,
    }
    return load_settings(values)


@dataclass
class BotUnderTest:
    """One running App; ``restart`` stops it and starts a new client object on the same DATA_DIR."""

    fake: FakeDiscord
    data_dir: Path
    backends: list[str]
    env: dict[str, str] = field(default_factory=dict)
    app: App | None = None

    async def start(self) -> App:
        app = App(settings_for(self.data_dir, self.backends, **self.env), guild_ready_timeout=0.05)
        await app.start()
        assert app.bot is not None
        deadline = time.monotonic() + 10
        while not app.bot.is_ready():
            if time.monotonic() > deadline:
                raise TimeoutError("bot not ready")
            await asyncio.sleep(0.01)
        pool = app.engine.pool  # type: ignore[union-attr]
        while not all(b.healthy and b.capable for b in pool.backends):
            if time.monotonic() > deadline:
                raise TimeoutError(f"backends not ready: {pool.snapshot()}")
            await asyncio.sleep(0.01)
        self.app = app
        return app

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.stop()
            self.app = None

    async def restart(self) -> App:
        await self.stop()
        return await self.start()

    @property
    def engine(self) -> Any:
        assert self.app is not None
        assert self.app.engine is not None
        return self.app.engine

    async def wait_job(self, job_id: str, *states: JobState, timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            job = await self.engine.jobs.get(job_id)
            if job is not None and job.state in states:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} is {job.state if job else None}, wanted {states}")
            await asyncio.sleep(0.01)


async def status_of(fake: FakeDiscord, record: Any, timeout: float = 10.0) -> Any:
    """The status message a command's response became (once the bot rendered the job into it)."""
    await record

    def ready() -> Any:
        message = record.original_message
        return message if message is not None and message.embeds else None

    return await fake.wait_for(ready, timeout=timeout)


def job_id_of(message: Any) -> str:
    """The job id from a status message's embed footer ("job ABCD1234 · /imagine")."""
    footer = message.embeds[0]["footer"]["text"]
    return footer.split()[1]
