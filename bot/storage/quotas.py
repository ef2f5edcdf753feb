"""Daily usage per member and guild, the input to quota checks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.storage.database import Database

# DMs and the CLI have no guild; the table keys them on guild 0 (NULL cannot be in a primary key).
_NO_GUILD = 0


@dataclass(frozen=True, slots=True)
class Usage:
    """What was used in one day."""

    jobs: int = 0
    gpu_seconds: float = 0.0


class QuotaRepository:
    """Adds up and reads daily usage; the caller decides what a day is (UTC dates)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_usage(
        self, guild_id: int | None, user_id: int, day: dt.date, *, jobs: int = 0, gpu_seconds: float = 0.0
    ) -> Usage:
        """Add to a member's usage for ``day``; returns the new totals."""
        key = (_key(guild_id), user_id, day.isoformat())
        async with self._db.transaction():
            await self._db.execute(
                "INSERT INTO quota_usage (guild_id, user_id, day, jobs, gpu_seconds) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (guild_id, user_id, day) DO UPDATE SET"
                " jobs = jobs + excluded.jobs, gpu_seconds = gpu_seconds + excluded.gpu_seconds",
                (*key, jobs, gpu_seconds),
            )
            return await self.get_usage(guild_id, user_id, day)

    async def get_usage(self, guild_id: int | None, user_id: int, day: dt.date) -> Usage:
        """A member's usage for ``day`` in one guild (zero if none)."""
        row = await self._db.fetch_one(
            "SELECT jobs, gpu_seconds FROM quota_usage WHERE guild_id = ? AND user_id = ? AND day = ?",
            (_key(guild_id), user_id, day.isoformat()),
        )
        return Usage(int(row[0]), float(row[1])) if row else Usage()

    async def guild_usage(self, guild_id: int | None, day: dt.date) -> Usage:
        """Everyone's usage for ``day`` in one guild."""
        row = await self._db.fetch_one(
            "SELECT COALESCE(SUM(jobs), 0), COALESCE(SUM(gpu_seconds), 0.0) FROM quota_usage"
            " WHERE guild_id = ? AND day = ?",
            (_key(guild_id), day.isoformat()),
        )
        return Usage(int(row[0]), float(row[1])) if row else Usage()

    async def prune_before(self, day: dt.date) -> int:
        """Delete usage older than ``day``; returns how many rows went."""
        return await self._db.execute("DELETE FROM quota_usage WHERE day < ?", (day.isoformat(),))


def _key(guild_id: int | None) -> int:
    return _NO_GUILD if guild_id is None else guild_id
