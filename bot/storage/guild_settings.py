"""Per-guild settings as JSON values under string keys."""

from __future__ import annotations

import json
from typing import Any

from bot.storage.database import Database


class GuildSettingsRepository:
    """Reads and writes one guild's settings; values are anything JSON can hold."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, guild_id: int, key: str, default: Any = None) -> Any:
        """The value of ``key`` for the guild, or ``default``."""
        row = await self._db.fetch_one(
            "SELECT value FROM guild_settings WHERE guild_id = ? AND key = ?", (guild_id, key)
        )
        return json.loads(row[0]) if row else default

    async def set(self, guild_id: int, key: str, value: Any) -> None:
        """Store ``value`` (JSON-serialisable) under ``key``."""
        await self._db.execute(
            "INSERT INTO guild_settings (guild_id, key, value, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (guild_id, key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (guild_id, key, json.dumps(value), self._db.clock()),
        )

    async def delete(self, guild_id: int, key: str) -> bool:
        """Remove ``key``; True if it was set."""
        changed = await self._db.execute(
            "DELETE FROM guild_settings WHERE guild_id = ? AND key = ?", (guild_id, key)
        )
        return changed > 0

    async def all_for_guild(self, guild_id: int) -> dict[str, Any]:
        """Every setting of the guild."""
        rows = await self._db.fetch_all(
            "SELECT key, value FROM guild_settings WHERE guild_id = ? ORDER BY key", (guild_id,)
        )
        return {row[0]: json.loads(row[1]) for row in rows}
