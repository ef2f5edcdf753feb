"""The intake journal: acknowledged slash commands not yet turned into jobs (see 0002_intake.sql)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.secret import Secret
from bot.storage.database import Database


@dataclass(frozen=True, slots=True)
class IntakeAttachment:
    param: str
    url: str
    filename: str
    size: int
    content_type: str | None


@dataclass(frozen=True, slots=True)
class IntakeEntry:
    """A command between its acknowledgement and its job."""

    interaction_id: str
    application_id: int
    token: Secret = field(repr=False)
    guild_id: int | None
    channel_id: int
    user_id: int
    template: str
    values: Mapping[str, Any]
    attachments: tuple[IntakeAttachment, ...]
    received_at: float


class IntakeRepository:
    """Adds, removes and lists journal entries; every write is one small statement."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, entry: IntakeEntry) -> None:
        request = {
            "values": dict(entry.values),
            "attachments": [_as_dict(a) for a in entry.attachments],
        }
        await self._db.execute(
            "INSERT OR REPLACE INTO intake (interaction_id, application_id, token, guild_id, channel_id,"
            " user_id, template, request, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.interaction_id,
                entry.application_id,
                entry.token.reveal(),
                entry.guild_id,
                entry.channel_id,
                entry.user_id,
                entry.template,
                json.dumps(request),
                entry.received_at,
            ),
        )

    async def remove(self, interaction_id: str) -> None:
        """Forget a command and its interaction token, from the log file as well as the table."""
        removed = await self._db.execute("DELETE FROM intake WHERE interaction_id = ?", (interaction_id,))
        if removed:
            await self._db.truncate_wal()

    async def pending(self) -> list[IntakeEntry]:
        rows = await self._db.fetch_all("SELECT * FROM intake ORDER BY received_at")
        return [_entry(row) for row in rows]


def _as_dict(attachment: IntakeAttachment) -> dict[str, Any]:
    return {
        "param": attachment.param,
        "url": attachment.url,
        "filename": attachment.filename,
        "size": attachment.size,
        "content_type": attachment.content_type,
    }


def _entry(row: Any) -> IntakeEntry:
    request = json.loads(row["request"])
    attachments: Sequence[Mapping[str, Any]] = request.get("attachments", [])
    return IntakeEntry(
        interaction_id=row["interaction_id"],
        application_id=int(row["application_id"]),
        token=Secret(row["token"]),
        guild_id=row["guild_id"],
        channel_id=int(row["channel_id"]),
        user_id=int(row["user_id"]),
        template=row["template"],
        values=request.get("values", {}),
        attachments=tuple(
            IntakeAttachment(a["param"], a["url"], a["filename"], int(a["size"]), a.get("content_type"))
            for a in attachments
        ),
        received_at=float(row["received_at"]),
    )
