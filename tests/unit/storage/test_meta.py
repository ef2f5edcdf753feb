"""MetaRepository: a string key/value store."""

from __future__ import annotations

from bot.storage import Database, MetaRepository


async def test_set_get_delete(db: Database) -> None:
    meta = MetaRepository(db)
    assert await meta.get("commands_hash") is None
    await meta.set("commands_hash", "abc")
    await meta.set("commands_hash", "def")
    assert await meta.get("commands_hash") == "def"
    assert await meta.delete("commands_hash")
    assert not await meta.delete("commands_hash")
    assert await meta.get("commands_hash") is None
