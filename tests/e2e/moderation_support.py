"""Helpers for the moderation end-to-end tests (test_moderation*.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.moderation import next_reset
from tests.e2e.harness import embed_text, job_id_of, status_of
from tests.fakes.discord.server import FakeDiscord

MODERATOR_ONLY = "Only moderators can do this"


@dataclass
class MovableClock:
    """Wall-clock time with an offset the test moves (the bot reads it through App(clock=...))."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def just_before_midnight(self, seconds: float = 30.0) -> None:
        """Move to ``seconds`` before the next 00:00 UTC."""
        now = time.time()
        self.offset = next_reset(now) - seconds - now

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def text_of(message: Any) -> str:
    """A message's content and embeds as one string."""
    return f"{message.content}\n{embed_text(message)}" if message.embeds else message.content


async def reply_of(fake: FakeDiscord, record: Any, timeout: float = 5.0) -> str:
    """The text of the private answer to an interaction (a response, or a followup)."""
    await record

    def found() -> Any:
        candidates = [record.original_message, *record.followups]
        for message in reversed(candidates):
            if (
                message is not None
                and not message.deleted
                and message.ephemeral
                and not message.loading
                and (message.content or message.embeds)
            ):
                return message
        return None

    return text_of(await fake.wait_for(found, timeout=timeout))


async def mod(
    fake: FakeDiscord, command: str, options: dict[str, Any] | None = None, *, user: Any = None
) -> str:
    """Run ``/mod <command>`` (as the moderator by default) and return the private answer."""
    record = await fake.slash(f"mod {command}", options or {}, user=user or fake.moderator)
    return await reply_of(fake, record)


async def set_setting(fake: FakeDiscord, key: str, value: str) -> str:
    answer = await mod(fake, "settings set", {"key": key, "value": value})
    assert f"`{key}`" in answer, answer
    return answer


async def run_job(
    fake: FakeDiscord,
    template: str = "imagine",
    options: dict[str, Any] | None = None,
    *,
    user: Any = None,
    channel: Any = None,
    attachments: Any = None,
) -> tuple[Any, str]:
    """Run a template command; (its status message, the job id)."""
    record = await fake.slash(
        template,
        options if options is not None else {"prompt": "a lighthouse at dusk"},
        user=user,
        channel=channel,
        attachments=attachments,
    )
    message = await status_of(fake, record)
    return message, job_id_of(message)


def review_message(fake: FakeDiscord, job_id: str) -> Any:
    """The review post of a job in the review channel (None until posted)."""
    for message in fake.channel_messages(fake.mod_channel):
        if message.embeds and f"job {job_id}" in message.embeds[0].get("footer", {}).get("text", ""):
            return message
    return None


async def wait_review_message(fake: FakeDiscord, job_id: str, timeout: float = 5.0) -> Any:
    return await fake.wait_for(lambda: review_message(fake, job_id), timeout=timeout)


def labels(message: Any) -> list[str]:
    return [c.get("label", "") for c in message.iter_components() if c.get("type") == 2]


def field(message: Any, name: str) -> str | None:
    for embed in message.embeds:
        for f in embed.get("fields", []):
            if f["name"] == name:
                return str(f["value"])
    return None


def modal_inputs(record: Any) -> dict[str, str]:
    """Label -> custom_id of the text inputs of the modal an interaction opened."""
    out: dict[str, str] = {}
    for row in record.modal["components"]:
        inner = row.get("components") or ([row["component"]] if "component" in row else [])
        for comp in inner:
            out[comp.get("label") or row.get("label", "")] = comp["custom_id"]
    return out


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 5.0) -> Any:
    """Polls an async ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.01)
