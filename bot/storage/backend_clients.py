"""The websocket client id each ComfyUI backend knows us by, kept across restarts."""

from __future__ import annotations

import uuid

from bot.storage.database import Database


class BackendClientRepository:
    """Maps a backend URL to a stable client id (ComfyUI routes execution events by it)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, backend_url: str) -> str | None:
        """The stored client id for ``backend_url``, if any."""
        row = await self._db.fetch_one(
            "SELECT client_id FROM backend_clients WHERE backend_url = ?", (backend_url,)
        )
        return str(row[0]) if row else None

    async def get_or_create(self, backend_url: str) -> str:
        """The client id for ``backend_url``, creating (uuid4 hex) and storing one the first time."""
        async with self._db.transaction():
            await self._db.execute(
                "INSERT INTO backend_clients (backend_url, client_id, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (backend_url) DO NOTHING",
                (backend_url, uuid.uuid4().hex, self._db.clock()),
            )
            client_id = await self.get(backend_url)
        assert client_id is not None  # inserted just above, in the same transaction
        return client_id
