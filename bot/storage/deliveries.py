"""What reached the user: one record per job and kind, so a retried delivery is never a double post."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.storage.database import Database


class DeliveryKind(StrEnum):
    """What was delivered: the results, the final status of a job that ended without results, or the
    notice that its results wait for a moderator."""

    RESULT = "result"
    STATUS = "status"
    HOLD = "hold"


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where and when something about a job was delivered."""

    job_id: str
    kind: str
    channel_id: int | None
    message_ids: tuple[int, ...]
    delivered_at: float


class DeliveryRepository:
    """Records deliveries idempotently (first record wins) and answers whether one happened."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record_delivery(
        self, job_id: str, kind: str, *, channel_id: int | None, message_ids: Sequence[int] = ()
    ) -> bool:
        """Record a delivery; True if this call recorded it, False if it was already recorded."""
        changed = await self._db.execute(
            "INSERT INTO deliveries (job_id, kind, channel_id, message_ids, delivered_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (job_id, kind) DO NOTHING",
            (job_id, str(kind), channel_id, json.dumps(list(message_ids)), self._db.clock()),
        )
        return changed == 1

    async def get(self, job_id: str, kind: str) -> Delivery | None:
        """The delivery of ``kind`` for a job, if there was one."""
        row = await self._db.fetch_one(
            "SELECT * FROM deliveries WHERE job_id = ? AND kind = ?", (job_id, str(kind))
        )
        return _delivery(row) if row is not None else None

    async def was_delivered(self, job_id: str, kind: str) -> bool:
        """Whether ``kind`` was already delivered for the job."""
        return await self.get(job_id, kind) is not None

    async def record_part(self, job_id: str, part: int, *, channel_id: int, message_id: int) -> None:
        """Remember that extra message ``part`` (2, 3, ...) of a job's delivery was posted."""
        await self._db.execute(
            "INSERT INTO delivery_parts (job_id, part, channel_id, message_id, posted_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (job_id, part) DO NOTHING",
            (job_id, part, channel_id, message_id, self._db.clock()),
        )

    async def parts(self, job_id: str) -> dict[int, int]:
        """The extra messages of a job's delivery already posted: {part: message id}."""
        rows = await self._db.fetch_all(
            "SELECT part, message_id FROM delivery_parts WHERE job_id = ? ORDER BY part", (job_id,)
        )
        return {int(row[0]): int(row[1]) for row in rows}

    async def list_for_job(self, job_id: str) -> list[Delivery]:
        """Every delivery of one job, oldest first."""
        rows = await self._db.fetch_all(
            "SELECT * FROM deliveries WHERE job_id = ? ORDER BY delivered_at, kind", (job_id,)
        )
        return [_delivery(row) for row in rows]


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(
        job_id=row["job_id"],
        kind=row["kind"],
        channel_id=row["channel_id"],
        message_ids=tuple(int(m) for m in json.loads(row["message_ids"])),
        delivered_at=row["delivered_at"],
    )
