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


def _on_disk(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file())


async def test_a_removed_token_is_gone_from_every_file_on_disk(tmp_path: Path) -> None:
    """DELETE alone leaves the bytes in free pages and in the write-ahead log."""
    token = "aW50ZXJhY3Rpb246" + "Q" * 120  # shaped like a real interaction token
    async with await Database.open_in(tmp_path) as db:
        repo = IntakeRepository(db)
        for number in range(3):
            await repo.add(
                IntakeEntry(
                    interaction_id=str(number),
                    application_id=42,
                    token=Secret(f"{token}{number}"),
                    guild_id=None,
                    channel_id=8,
                    user_id=9,
                    template="imagine",
                    values={"prompt": "a cat"},
                    attachments=(),
                    received_at=float(number),
                )
            )
        assert token.encode() in _on_disk(tmp_path)
        await repo.remove("0")
        await repo.remove("1")
        left = _on_disk(tmp_path)
        assert f"{token}0".encode() not in left
        assert f"{token}1".encode() not in left
        assert f"{token}2".encode() in left, "the command still in flight keeps its token"
