"""Ten templates changing at once never take the bot over Discord's command-registration limits: they
go to Discord in one bulk call, and when Discord's daily allowance of new commands cannot take them,
nothing is sent (no 429 and no half-applied set), the owners are told, and the next change that fits
goes through. The fake Discord enforces the daily limit like the real API (429/30034, a violation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.discord_ui.command_sync import SyncPolicy
from tests.e2e.harness import WORKFLOWS, BotUnderTest, workflows_copy
from tests.e2e.template_support import SKETCH_TOML, command_syncs, dms_to, sketch_json, until

NAMES = [f"style-{n}" for n in range(10)]
BUILT_IN = {"queue", "cancel", "jobs", "show", "templates", "help", "sync", "mod", "quota", "template"}
BUNDLED = {path.stem for path in WORKFLOWS.glob("*.toml")}  # the bundled templates' commands


def write_templates(folder: Path, names: list[str]) -> None:
    for name in names:
        (folder / f"{name}.toml").write_text(SKETCH_TOML.replace('"sketch"', f'"{name}"'))
        (folder / f"{name}.json").write_bytes(sketch_json())


async def start(fake: Any, tmp_path: Path, fake_comfy: Any, *, creates_per_day: int) -> BotUnderTest:
    bot = BotUnderTest(
        fake,
        tmp_path / "data",
        [fake_comfy.base_url],
        env={
            "WORKFLOWS_DIR": str(workflows_copy(tmp_path / "workflows")),
            "WORKFLOWS_POLL_SECONDS": "0.05",
            "OWNER_IDS": fake.owner.id,
        },
        options={"sync_policy": SyncPolicy(settle=0.05, first_retry=0.05, creates_per_day=creates_per_day)},
    )
    await bot.start()
    return bot


@pytest.fixture
async def started(tmp_path: Path) -> Any:
    bots: list[BotUnderTest] = []
    yield bots
    for bot in bots:
        await bot.stop()


def registered(fake: Any) -> set[str]:
    return {c["name"] for c in fake.global_commands}


async def test_ten_new_templates_go_to_discord_in_one_call_within_the_daily_limit(
    fake_discord_factory: Any, fake_comfy: Any, tmp_path: Path, started: list[BotUnderTest]
) -> None:
    limit = len(BUILT_IN | BUNDLED) + len(NAMES)  # exactly what fits in one day
    fake = await fake_discord_factory(command_create_limit=(limit, 24 * 3600.0))
    bot = await start(fake, tmp_path, fake_comfy, creates_per_day=limit)
    started.append(bot)
    assert registered(fake) == BUILT_IN | BUNDLED
    syncs = len(command_syncs(fake))
    manager = bot.app.templates  # type: ignore[union-attr]

    # All twenty files land between two looks of the watcher (its lock held while they are written).
    async with manager._lock:
        write_templates(tmp_path / "workflows", NAMES)
    await until(lambda: registered(fake) >= set(NAMES), what="the ten commands registered")
    polls = manager.polls
    await until(lambda: manager.polls >= polls + 5, what="five more looks at the folder")
    [sync] = command_syncs(fake)[syncs:]
    assert sync.status == 200
    assert {c["name"] for c in sync.json} == BUILT_IN | BUNDLED | set(NAMES)
    assert fake.command_creates.spent(None) == limit
    assert fake.stats.rate_limited == 0


async def test_changes_beyond_the_daily_limit_wait_are_reported_and_never_half_applied(
    fake_discord_factory: Any, fake_comfy: Any, tmp_path: Path, started: list[BotUnderTest]
) -> None:
    limit = len(BUILT_IN | BUNDLED) + 5  # room for five new commands today, not ten
    fake = await fake_discord_factory(command_create_limit=(limit, 24 * 3600.0))
    bot = await start(fake, tmp_path, fake_comfy, creates_per_day=limit)
    started.append(bot)
    syncs = len(command_syncs(fake))
    manager = bot.app.templates  # type: ignore[union-attr]
    workflows = tmp_path / "workflows"

    async with manager._lock:
        write_templates(workflows, NAMES)
    told = await until(
        lambda: next((m for m in dms_to(fake, fake.owner) if "not updated yet" in m.content), None),
        what="the owner told",
    )
    assert "registering 10 new command(s) now would go over Discord's limit" in told.content
    assert len(command_syncs(fake)) == syncs  # nothing sent: no 429, nothing half applied
    assert registered(fake) == BUILT_IN | BUNDLED
    assert set(NAMES) <= set(manager.library.names)  # the bot has them; Discord does not yet

    # Six are moved out again: the four left fit, and go in one call.
    async with manager._lock:
        for name in NAMES[4:]:
            for suffix in (".json", ".toml"):
                (workflows / f"{name}{suffix}").unlink()
    await until(lambda: registered(fake) >= set(NAMES[:4]), what="four commands registered")
    [sync] = command_syncs(fake)[syncs:]
    assert {c["name"] for c in sync.json} == BUILT_IN | BUNDLED | set(NAMES[:4])
    assert fake.command_creates.spent(None) == limit - 1
    assert fake.stats.rate_limited == 0
