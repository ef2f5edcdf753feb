"""A whole bot (App) on a temporary DATA_DIR, against the fake Discord and fake ComfyUI backends."""

from __future__ import annotations

import asyncio
import io
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from PIL import Image

from bot.app import App
from bot.config import load_settings
from bot.jobmodel.states import JobState
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
    #: keyword arguments for App (e.g. ``token_seconds``)
    options: dict[str, Any] = field(default_factory=dict)
    #: wait for every backend to be healthy before returning from ``start``
    wait_backends: bool = True
    #: moderation settings of the fake's guild, set at each start (e.g. ``{"cooldown_seconds": "0"}``)
    policy: dict[str, str] = field(default_factory=dict)
    app: App | None = None

    async def start(self) -> App:
        app = App(
            settings_for(self.data_dir, self.backends, **self.env), guild_ready_timeout=0.05, **self.options
        )
        try:
            await app.start()
            await self._ready(app)
        except BaseException:
            await app.stop()
            raise
        self.app = app
        return app

    async def _ready(self, app: App) -> None:
        assert app.bot is not None
        deadline = time.monotonic() + 10
        while not app.bot.is_ready():
            if time.monotonic() > deadline:
                raise TimeoutError("bot not ready")
            await asyncio.sleep(0.01)
        pool = app.engine.pool  # type: ignore[union-attr]
        while self.wait_backends and not all(b.healthy and b.capable for b in pool.backends):
            if time.monotonic() > deadline:
                raise TimeoutError(f"backends not ready: {pool.snapshot()}")
            await asyncio.sleep(0.01)
        moderation = app.bot.controller.moderation
        for key, value in self.policy.items():
            assert moderation is not None
            await moderation.change_setting(
                int(self.fake.guild.id), key, value, moderator_id=int(self.fake.owner.id)
            )

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
    """The job id from a status message's embed footer ("job ABCD1234 · /imagine"), or from the last
    line of a result gallery's text (components v2 have no embeds)."""
    if message.embeds:
        return str(message.embeds[0]["footer"]["text"].split()[1])
    for line in reversed(component_texts(message).splitlines()):
        if line.startswith("-# job "):
            return line.split()[2]
    raise AssertionError(f"no job id in message {message.id}")


def component_texts(snapshot: Any) -> str:
    """The text displays of a components-v2 message (or history snapshot), depth first, as one string."""
    components = snapshot["components"] if isinstance(snapshot, dict) else snapshot.components
    found: list[str] = []

    def walk(items: list[Any]) -> None:
        for item in items:
            if item.get("type") == 10:
                found.append(item.get("content", ""))
            walk(item.get("components") or [])

    walk(components)
    return "\n".join(found)


def gallery_of(message: Any) -> list[dict[str, Any]]:
    """The media gallery items of a components-v2 message (empty for a classic one)."""
    items: list[dict[str, Any]] = []

    def walk(components: list[Any]) -> None:
        for component in components:
            if component.get("type") == 12:
                items.extend(component["items"])
            walk(component.get("components") or [])

    walk(message.components)
    return items


def png(size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (10, 200, 30)) -> bytes:
    """A small valid PNG."""
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def noisy_png(size: tuple[int, int], seed: int = 1) -> bytes:
    """A PNG that compresses badly (random pixels), for size-limit tests."""
    out = io.BytesIO()
    Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3)).save(out, "PNG")
    return out.getvalue()


def workflows_copy(target: Path, edit: Callable[[str, str], str] | None = None) -> Path:
    """A copy of the bundled workflows in ``target``; ``edit(name, text)`` may rewrite each manifest."""
    target.mkdir(parents=True, exist_ok=True)
    for source in WORKFLOWS.iterdir():
        if source.is_file():
            text = source.read_text()
            if edit is not None and source.suffix == ".toml":
                text = edit(source.name, text)
            (target / source.name).write_text(text)
    return target


def private_reply(fake: FakeDiscord, record: Any, timeout: float = 5.0) -> Awaitable[Any]:
    """The ephemeral message an interaction was answered with (a response or a followup)."""

    def found() -> Any:
        candidates = [record.original_message, *record.followups]
        for message in reversed(candidates):
            if message is not None and not message.deleted and message.ephemeral and message.content:
                return message
        return None

    return cast(Awaitable[Any], fake.wait_for(found, timeout=timeout))


def message_edits(fake: FakeDiscord, message_id: str, tokens: Iterable[str] = ()) -> list[Any]:
    """Successful edits of one message, through the channel or an interaction token, in order."""
    calls = list(fake.calls("PATCH", f"/channels/*/messages/{message_id}"))
    for token in tokens:
        calls += [
            c
            for c in fake.calls("PATCH", f"/webhooks/*/{token}/messages/*")
            if isinstance(c.response, dict) and c.response.get("id") == message_id
        ]
    return sorted((c for c in calls if c.status < 300), key=lambda c: c.timestamp)


def embed_text(snapshot: Any) -> str:
    """Everything an embed of a message (or a history snapshot) says, as one string; for a
    components-v2 message (a result gallery), what its text displays say."""
    embeds = snapshot["embeds"] if isinstance(snapshot, dict) else snapshot.embeds
    parts: list[str] = []
    for embed in embeds:
        parts += [embed.get("title", ""), embed.get("description", "")]
        parts += [f"{f['name']}: {f['value']}" for f in embed.get("fields", [])]
        parts.append(embed.get("footer", {}).get("text", ""))
    texts = component_texts(snapshot)
    if texts:
        parts.append(texts)
    return "\n".join(parts)


def modal_inputs(modal: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The text inputs of a modal the bot opened, by label: ``{"prompt": {"custom_id", "value", ...}}``."""
    found: dict[str, dict[str, Any]] = {}

    def walk(component: dict[str, Any], label: str | None) -> None:
        if component.get("type") == 18:  # a label around one component
            walk(component["component"], component.get("label"))
        elif component.get("type") == 4:
            found[component.get("label") or label or component["custom_id"]] = component
        for child in component.get("components", []):
            walk(child, label)

    for component in modal.get("components", []):
        walk(component, None)
    return found


def button_labels(message: Any) -> list[str]:
    return [c.get("label", "") for c in message.iter_components() if c.get("type") == 2]
