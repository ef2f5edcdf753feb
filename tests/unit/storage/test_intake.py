"""The intake journal round-trips commands and forgets them once handled."""

from __future__ import annotations

from pathlib import Path

from bot.secret import Secret
from bot.storage import Database, IntakeAttachment, IntakeEntry, IntakeRepository


async def test_add_list_remove(tmp_path: Path) -> None:
    async with await Database.open_in(tmp_path) as db:
        repo = IntakeRepository(db)
        entry = IntakeEntry(
            interaction_id="111",
            application_id=42,
            token=Secret("tok-secret"),
            guild_id=7,
            channel_id=8,
            user_id=9,
            template="img2img",
            values={"prompt": "a cat", "steps": 20},
            attachments=(IntakeAttachment("image", "http://127.0.0.1/a.png", "a.png", 123, "image/png"),),
            received_at=1000.0,
        )
        await repo.add(entry)
        await repo.add(entry)  # a retried write does not duplicate
        (stored,) = await repo.pending()
        assert stored == entry
        assert stored.token.reveal() == "tok-secret"
        assert "tok-secret" not in repr(stored)
        await repo.remove("111")
        assert await repo.pending() == []
