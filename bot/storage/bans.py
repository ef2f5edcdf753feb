"""Members banned from using the bot, per guild or everywhere, for a time or until lifted."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from bot.storage.database import Database

# The table keys bot-wide bans on guild 0 (NULL cannot take part in a primary key); the API says None.
_EVERYWHERE = 0


@dataclass(frozen=True, slots=True)
class Ban:
    """One ban; ``guild_id`` None means every guild, ``until`` None means until lifted."""

    guild_id: int | None
    user_id: int
    until: float | None
    reason: str
    moderator_id: int | None
    created_at: float

    def active_at(self, now: float) -> bool:
        """Whether the ban still applies at ``now``."""
        return self.until is None or now < self.until


class BanRepository:
    """Stores bans and answers whether a member is banned right now."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def ban(
        self,
        guild_id: int | None,
        user_id: int,
        *,
        reason: str = "",
        moderator_id: int | None = None,
        until: float | None = None,
    ) -> Ban:
        """Ban (or re-ban, replacing the earlier terms) a member."""
        ban = Ban(guild_id, user_id, until, reason, moderator_id, self._db.clock())
        await self._db.execute(
            "INSERT INTO bans (guild_id, user_id, until, reason, moderator_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, user_id) DO UPDATE SET"
            " until = excluded.until, reason = excluded.reason,"
            " moderator_id = excluded.moderator_id, created_at = excluded.created_at",
            (_key(guild_id), user_id, until, reason, moderator_id, ban.created_at),
        )
        return ban

    async def unban(self, guild_id: int | None, user_id: int) -> bool:
        """Lift a ban; True if there was one."""
        changed = await self._db.execute(
            "DELETE FROM bans WHERE guild_id = ? AND user_id = ?", (_key(guild_id), user_id)
        )
        return changed > 0

    async def get(self, guild_id: int | None, user_id: int) -> Ban | None:
        """The ban for exactly this scope (expired or not)."""
        row = await self._db.fetch_one(
            "SELECT * FROM bans WHERE guild_id = ? AND user_id = ?", (_key(guild_id), user_id)
        )
        return _ban(row) if row else None

    async def active_ban(self, guild_id: int | None, user_id: int) -> Ban | None:
        """The ban that stops this member here now: the guild's own or a bot-wide one."""
        rows = await self._db.fetch_all(
            "SELECT * FROM bans WHERE user_id = ? AND guild_id IN (?, ?)"
            " AND (until IS NULL OR until > ?) ORDER BY guild_id DESC",
            (user_id, _key(guild_id), _EVERYWHERE, self._db.clock()),
        )
        return _ban(rows[0]) if rows else None

    async def list_active(self, guild_id: int | None) -> list[Ban]:
        """Bans in force in one scope (None: the bot-wide ones), oldest first."""
        rows = await self._db.fetch_all(
            "SELECT * FROM bans WHERE guild_id = ? AND (until IS NULL OR until > ?) ORDER BY created_at",
            (_key(guild_id), self._db.clock()),
        )
        return [_ban(row) for row in rows]

    async def purge_expired(self) -> int:
        """Delete bans that have run out; returns how many."""
        return await self._db.execute(
            "DELETE FROM bans WHERE until IS NOT NULL AND until <= ?", (self._db.clock(),)
        )


def _key(guild_id: int | None) -> int:
    return _EVERYWHERE if guild_id is None else guild_id


def _ban(row: sqlite3.Row) -> Ban:
    guild_id = row["guild_id"]
    return Ban(
        guild_id=None if guild_id == _EVERYWHERE else guild_id,
        user_id=row["user_id"],
        until=row["until"],
        reason=row["reason"],
        moderator_id=row["moderator_id"],
        created_at=row["created_at"],
    )
