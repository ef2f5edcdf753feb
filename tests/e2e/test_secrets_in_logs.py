"""Interaction tokens stay out of the logs (even discord.py's DEBUG lines) and off the disk once the
command that needed them is finished."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.jobmodel.states import JobState
from bot.observability import RedactingFilter
from bot.storage import IntakeRepository
from tests.e2e.harness import TOKEN, BotUnderTest, job_id_of, private_reply, status_of


@pytest.fixture
def debug_logs() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """(everything as libraries wrote it, what the bot's redacting handler lets through)."""
    raw, redacted = io.StringIO(), io.StringIO()
    first = logging.StreamHandler(raw)  # runs before the filter rewrites the record
    second = logging.StreamHandler(redacted)
    second.addFilter(RedactingFilter([TOKEN]))
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(first)
    root.addHandler(second)
    try:
        yield raw, redacted
    finally:
        root.removeHandler(first)
        root.removeHandler(second)
        root.setLevel(old_level)


def _holding(folder: Path, token: str) -> list[str]:
    """The files under ``folder`` that hold ``token``."""
    return [p.name for p in sorted(folder.rglob("*")) if p.is_file() and token.encode() in p.read_bytes()]


async def test_interaction_tokens_are_redacted_and_forgotten(
    bot: BotUnderTest, debug_logs: tuple[io.StringIO, io.StringIO]
) -> None:
    raw, redacted = debug_logs
    ok = await bot.fake.slash("imagine", {"prompt": "a lighthouse"})
    await bot.wait_job(job_id_of(await status_of(bot.fake, ok)), JobState.DELIVERED)
    refused = await bot.fake.slash("imagine", {"prompt": "a\x00b"})  # refused with a private reply
    await private_reply(bot.fake, refused)
    tokens = [ok.token, refused.token]
    assert all(token in raw.getvalue() for token in tokens), "discord.py logged them: the test can tell"
    shown = redacted.getvalue()
    for token in tokens:
        assert token not in shown
    assert "/webhooks/" in shown, "the routes are still readable..."
    assert "/***/" in shown, "... minus the token"
    assert "'token': '***'" in shown, "the gateway payload keeps its shape"
    # The journal entry goes right after the reply is sent, and the log file is emptied just after.
    journal = IntakeRepository(bot.engine.db)
    deadline = time.monotonic() + 30
    while await journal.pending() or any(_holding(bot.data_dir, token) for token in tokens):
        assert time.monotonic() < deadline, (
            f"a finished command's token stayed in {[_holding(bot.data_dir, t) for t in tokens]}"
        )
        await asyncio.sleep(0.01)
