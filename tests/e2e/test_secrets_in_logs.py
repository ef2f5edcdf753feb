"""Interaction tokens stay out of the logs (even discord.py's DEBUG lines) and off the disk once the
command that needed them is finished."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.jobs.states import JobState
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


def _files(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


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
    assert await IntakeRepository(bot.engine.db).pending() == []
    on_disk = _files(bot.data_dir)
    for token in tokens:
        assert token.encode() not in on_disk, "nothing left in the database or its log"
