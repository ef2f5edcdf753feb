"""Command registration: only when the set changed, never past Discord's daily allowance of new
commands or its 100 commands, changes close together in one call, failures retried and reported."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.discord_ui.command_sync import DAY, CommandSync, SyncPolicy, SyncPostponed, _fits_at
from bot.storage import Database, MetaRepository


class RecordingTree(app_commands.CommandTree[Any]):
    """discord.py's tree with the network call replaced: it records what would be sent."""

    def __init__(self) -> None:
        super().__init__(discord.Client(intents=discord.Intents.none()))
        self.sent: list[list[str]] = []
        self.failures: list[BaseException] = []

    async def sync(self, *, guild: Any = None) -> list[Any]:  # type: ignore[override]
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(sorted(c.name for c in self.get_commands(guild=guild)))
        return []


def add(tree: RecordingTree, *names: str) -> None:
    for name in names:

        async def callback(interaction: discord.Interaction[Any]) -> None: ...

        tree.add_command(app_commands.Command(name=name, description="d", callback=callback))


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def meta(tmp_path: Path) -> AsyncIterator[MetaRepository]:
    async with await Database.open(tmp_path / "db.sqlite3") as db:
        yield MetaRepository(db)


async def test_an_unchanged_set_is_not_sent_again(meta: MetaRepository) -> None:
    tree = RecordingTree()
    add(tree, "a", "b")
    sync = CommandSync(tree, meta)
    assert await sync.sync() == "global"
    assert await sync.sync() == "unchanged"
    assert await CommandSync(tree, meta).sync() == "unchanged"  # a restart: the hash is in the database
    assert await sync.sync(force=True) == "global"
    assert tree.sent == [["a", "b"], ["a", "b"]]


async def test_new_commands_are_counted_and_never_sent_past_the_daily_allowance(meta: MetaRepository) -> None:
    clock = Clock()
    tree = RecordingTree()
    add(tree, "a", "b", "c")
    sync = CommandSync(tree, meta, policy=SyncPolicy(creates_per_day=5), clock=clock)
    await sync.sync()  # 3 new
    tree.remove_command("c")
    add(tree, "d")
    await sync.sync()  # 1 new (d); a and b existed, c went
    add(tree, "e", "f")
    with pytest.raises(SyncPostponed) as postponed:
        await sync.sync()  # 2 more would make 6
    assert postponed.value.retry_at == pytest.approx(1_000_000.0 + DAY)
    assert len(tree.sent) == 2
    clock.now += DAY  # the first three age out
    await sync.sync()
    assert tree.sent[-1] == ["a", "b", "d", "e", "f"]


def test_when_creates_fit_again() -> None:
    spent = [(100.0, 3), (200.0, 1), (300.0, 1)]
    assert _fits_at(spent, 2, 5) == 100.0 + DAY
    assert _fits_at(spent, 4, 5) == 200.0 + DAY
    assert _fits_at(spent, 6, 5) is None


async def wait_until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def test_changes_close_together_go_in_one_call(meta: MetaRepository) -> None:
    tree = RecordingTree()
    add(tree, "a")
    sync = CommandSync(tree, meta, policy=SyncPolicy(settle=0.3))
    task = asyncio.create_task(sync.run())
    try:
        for name in ("b", "c", "d"):
            add(tree, name)
            sync.request()
            await asyncio.sleep(0)
        await wait_until(lambda: tree.sent)
        assert tree.sent == [["a", "b", "c", "d"]]
    finally:
        task.cancel()


async def test_a_failed_sync_is_retried_and_reported_once_each_way(meta: MetaRepository) -> None:
    told: list[str] = []

    async def report(text: str) -> None:
        told.append(text)

    tree = RecordingTree()
    add(tree, "a")
    tree.failures = [TimeoutError(), TimeoutError()]
    sync = CommandSync(tree, meta, policy=SyncPolicy(settle=0.01, first_retry=0.01), report=report)
    task = asyncio.create_task(sync.run())
    try:
        sync.request()
        await wait_until(lambda: tree.sent)
        await wait_until(lambda: len(told) == 2)
    finally:
        task.cancel()
    assert "did not take the new slash commands (no answer in time)" in told[0]
    assert told[1] == "✅ Slash commands updated after 3 attempts."
    assert sync.syncs == 1
    assert sync.last_error is None
