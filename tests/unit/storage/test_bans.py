"""BanRepository: guild and bot-wide bans, with and without an end."""

from __future__ import annotations

import pytest

from bot.storage import BanRepository, Database

from .conftest import FakeClock


@pytest.fixture
def bans(db: Database) -> BanRepository:
    return BanRepository(db)


async def test_ban_get_and_unban(bans: BanRepository, clock: FakeClock) -> None:
    ban = await bans.ban(1, 42, reason="spam", moderator_id=7)
    assert ban.created_at == clock()
    assert await bans.get(1, 42) == ban
    assert await bans.active_ban(1, 42) == ban
    assert await bans.active_ban(2, 42) is None
    assert await bans.unban(1, 42)
    assert not await bans.unban(1, 42)
    assert await bans.active_ban(1, 42) is None


async def test_reban_replaces_the_terms(bans: BanRepository, clock: FakeClock) -> None:
    await bans.ban(1, 42, reason="first", until=clock() + 10)
    again = await bans.ban(1, 42, reason="second")
    assert await bans.get(1, 42) == again
    assert again.until is None


async def test_timed_ban_expires(bans: BanRepository, clock: FakeClock) -> None:
    ban = await bans.ban(1, 42, until=clock() + 60)
    assert ban.active_at(clock())
    assert await bans.list_active(1) == [ban]
    clock.advance(60)
    assert not ban.active_at(clock())
    assert await bans.active_ban(1, 42) is None
    assert await bans.list_active(1) == []
    assert await bans.purge_expired() == 1
    assert await bans.get(1, 42) is None


async def test_bot_wide_ban_applies_everywhere(bans: BanRepository) -> None:
    everywhere = await bans.ban(None, 42, reason="abuse")
    assert everywhere.guild_id is None
    assert await bans.active_ban(5, 42) == everywhere
    assert await bans.active_ban(None, 42) == everywhere
    guild_ban = await bans.ban(5, 42, reason="local")
    # The guild's own ban is the more specific answer.
    assert await bans.active_ban(5, 42) == guild_ban
    assert await bans.list_active(None) == [everywhere]
