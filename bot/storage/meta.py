"""Small facts about the installation itself (e.g. the hash of the last synced command set)."""

from __future__ import annotations

from bot.storage.database import Database


class MetaRepository:
    """A string key/value store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, key: str) -> str | None:
        """The value under ``key``, or None."""
        row = await self._db.fetch_one("SELECT value FROM meta WHERE key = ?", (key,))
        return str(row[0]) if row else None

    async def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``."""
        await self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def delete(self, key: str) -> bool:
        """Remove ``key``; True if it was set."""
        return await self._db.execute("DELETE FROM meta WHERE key = ?", (key,)) > 0
