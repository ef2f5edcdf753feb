"""The audit trail: who did what to whom (and to which job), kept after the jobs themselves."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.storage.database import Database


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One recorded action."""

    id: int
    action: str
    at: float
    guild_id: int | None = None
    actor_id: int | None = None
    target_id: int | None = None
    job_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


class AuditRepository:
    """Appends audit entries and reads them back.

    ``on_record`` hears the action of every entry once it is stored (moderation counts its decisions
    there, so the metrics and the audit trail cannot disagree)."""

    def __init__(self, db: Database, *, on_record: Callable[[str], None] | None = None) -> None:
        self._db = db
        self._on_record = on_record

    async def record(
        self,
        action: str,
        *,
        guild_id: int | None = None,
        actor_id: int | None = None,
        target_id: int | None = None,
        job_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        """Append an entry; returns its id."""
        now = self._db.clock()
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO audit_log (guild_id, actor_id, action, target_id, job_id, details, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (guild_id, actor_id, action, target_id, job_id, json.dumps(dict(details or {})), now),
            )
            entry_id = cursor.lastrowid
            await cursor.close()
        assert entry_id is not None  # an INSERT into a rowid table always sets it
        if self._on_record is not None:
            self._on_record(action)
        return entry_id

    async def recent(
        self, *, guild_id: int | None = None, action: str | None = None, limit: int = 50
    ) -> list[AuditEntry]:
        """Latest entries first, optionally for one guild and/or one action."""
        rows = await self._db.fetch_all(
            "SELECT * FROM audit_log WHERE (:guild IS NULL OR guild_id = :guild)"
            " AND (:action IS NULL OR action = :action) ORDER BY at DESC, id DESC LIMIT :limit",
            {"guild": guild_id, "action": action, "limit": limit},
        )
        return [_entry(row) for row in rows]

    async def for_job(self, job_id: str) -> list[AuditEntry]:
        """Everything recorded about one job, oldest first."""
        rows = await self._db.fetch_all("SELECT * FROM audit_log WHERE job_id = ? ORDER BY at, id", (job_id,))
        return [_entry(row) for row in rows]

    async def prune_before(self, cutoff: float) -> int:
        """Delete entries recorded before ``cutoff`` (a UNIX time); returns how many went."""
        return await self._db.execute("DELETE FROM audit_log WHERE at < ?", (cutoff,))


def _entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        action=row["action"],
        at=row["at"],
        guild_id=row["guild_id"],
        actor_id=row["actor_id"],
        target_id=row["target_id"],
        job_id=row["job_id"],
        details=json.loads(row["details"]),
    )
