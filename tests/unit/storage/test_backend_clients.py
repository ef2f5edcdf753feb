"""BackendClientRepository: one stable client id per backend, across restarts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.storage import BackendClientRepository, Database

from .conftest import FakeClock


async def test_get_or_create_is_stable(db: Database, db_path: Path, clock: FakeClock) -> None:
    clients = BackendClientRepository(db)
    assert await clients.get("http://gpu1:8188") is None
    first = await clients.get_or_create("http://gpu1:8188")
    assert len(first) == 32
    assert int(first, 16) >= 0
    assert await clients.get_or_create("http://gpu1:8188") == first
    assert await clients.get_or_create("http://gpu2:8188") != first
    await db.close()
    async with await Database.open(db_path, clock=clock) as reopened:
        assert await BackendClientRepository(reopened).get("http://gpu1:8188") == first


async def test_concurrent_creation_agrees(db: Database) -> None:
    clients = BackendClientRepository(db)
    ids = await asyncio.gather(*(clients.get_or_create("http://gpu1:8188") for _ in range(5)))
    assert len(set(ids)) == 1
