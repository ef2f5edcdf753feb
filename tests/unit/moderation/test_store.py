"""PolicyStore: guild policies through the guild settings table."""

from __future__ import annotations

import logging

import pytest

from bot.moderation.errors import SettingError
from bot.moderation.limits import RoleLimits
from bot.moderation.settings import DEFAULT_POLICY, ReviewMode
from bot.moderation.store import KEY_PREFIX, PolicyStore
from bot.storage import Database, GuildSettingsRepository

GUILD = 1000


@pytest.fixture
def repo(db: Database) -> GuildSettingsRepository:
    return GuildSettingsRepository(db)


@pytest.fixture
def store(repo: GuildSettingsRepository) -> PolicyStore:
    return PolicyStore(repo)


async def test_a_new_guild_and_dms_have_the_defaults(store: PolicyStore) -> None:
    assert await store.load(GUILD) == DEFAULT_POLICY
    assert await store.load(None) == DEFAULT_POLICY


async def test_set_reads_text_and_survives_a_reload(store: PolicyStore, db: Database) -> None:
    change = await store.set_text(GUILD, "review-mode", "everyone")
    assert (change.key, change.old, change.new) == ("review_mode", ReviewMode.FLAGGED, ReviewMode.EVERYONE)
    assert (change.old_text, change.new_text, change.changed) == ("flagged", "everyone", True)
    await store.set_text(GUILD, "role_overrides", "<@&7> lane=priority daily_jobs=0")
    fresh = await PolicyStore(GuildSettingsRepository(db)).load(GUILD)
    assert fresh.review_mode is ReviewMode.EVERYONE
    assert fresh.role_overrides == {7: RoleLimits(lane="priority", daily_jobs=0)}
    assert (await store.load(GUILD + 1)) == DEFAULT_POLICY


async def test_bad_text_changes_nothing(store: PolicyStore) -> None:
    with pytest.raises(SettingError):
        await store.set_text(GUILD, "cooldown_seconds", "soon")
    with pytest.raises(SettingError):
        await store.set_text(GUILD, "no_such_key", "1")
    assert await store.load(GUILD) == DEFAULT_POLICY


async def test_reset_goes_back_to_the_default(store: PolicyStore, repo: GuildSettingsRepository) -> None:
    await store.set_text(GUILD, "daily_jobs", "5")
    change = await store.reset(GUILD, "daily_jobs")
    assert (change.old, change.new) == (5, DEFAULT_POLICY.daily_jobs)
    assert await repo.all_for_guild(GUILD) == {}


async def test_keys_are_namespaced(store: PolicyStore, repo: GuildSettingsRepository) -> None:
    await store.set_text(GUILD, "allowed_channels", "<#2> <#1>")
    await repo.set(GUILD, "welcome.message", "hi")  # another feature's setting
    assert await repo.all_for_guild(GUILD) == {
        f"{KEY_PREFIX}allowed_channels": [1, 2],
        "welcome.message": "hi",
    }
    assert (await store.load(GUILD)).allowed_channels == {1, 2}


async def test_unreadable_or_unknown_rows_fall_back_to_defaults(
    store: PolicyStore, repo: GuildSettingsRepository, caplog: pytest.LogCaptureFixture
) -> None:
    await repo.set(GUILD, f"{KEY_PREFIX}cooldown_seconds", "soon")
    await repo.set(GUILD, f"{KEY_PREFIX}retired_setting", 1)
    await repo.set(GUILD, f"{KEY_PREFIX}daily_jobs", 7)
    with caplog.at_level(logging.WARNING, logger="bot.moderation.store"):
        policy = await store.load(GUILD)
    assert policy.cooldown_seconds == DEFAULT_POLICY.cooldown_seconds
    assert policy.daily_jobs == 7
    assert "cooldown_seconds is unreadable" in caplog.text
    assert "retired_setting" in caplog.text


async def test_add_and_remove_terms(store: PolicyStore) -> None:
    await store.add_terms(GUILD, "blocked_terms", "nud*, gore")
    change = await store.add_terms(GUILD, "blocked_terms", "GORE, re:\\bx{2,3}\\b")
    assert change.new == ("nud*", "gore", "re:\\bx{2,3}\\b")
    change = await store.remove_terms(GUILD, "blocked_terms", "gore")
    assert change.new == ("nud*", "re:\\bx{2,3}\\b")
    with pytest.raises(SettingError, match="not in the list: missing"):
        await store.remove_terms(GUILD, "blocked_terms", "missing")
    with pytest.raises(SettingError, match="back-references"):
        await store.add_terms(GUILD, "review_terms", r"re:(a)\1")
    with pytest.raises(SettingError, match="only be added to blocked_terms or review_terms"):
        await store.add_terms(GUILD, "daily_jobs", "x")
    assert (await store.load(GUILD)).review_terms == ()
