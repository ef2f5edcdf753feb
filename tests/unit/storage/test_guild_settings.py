"""GuildSettingsRepository: JSON values per guild and key."""

from __future__ import annotations

from bot.storage import Database, GuildSettingsRepository


async def test_set_get_delete(db: Database) -> None:
    settings = GuildSettingsRepository(db)
    assert await settings.get(1, "nsfw") is None
    assert await settings.get(1, "nsfw", default=False) is False
    await settings.set(1, "nsfw", True)
    await settings.set(1, "channels", [10, 11])
    await settings.set(1, "channels", {"allowed": [12]})
    await settings.set(2, "nsfw", False)
    assert await settings.get(1, "nsfw") is True
    assert await settings.all_for_guild(1) == {"channels": {"allowed": [12]}, "nsfw": True}
    assert await settings.delete(1, "nsfw")
    assert not await settings.delete(1, "nsfw")
    assert await settings.all_for_guild(1) == {"channels": {"allowed": [12]}}
    assert await settings.get(2, "nsfw") is False
