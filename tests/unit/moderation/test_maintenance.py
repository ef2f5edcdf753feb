"""Retention of moderation data: each kind is pruned on schedule, nothing current is, and a failed round
does not stop the schedule. Time moves by hand; nothing sleeps."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Callable

import pytest

from bot.moderation import ModerationMaintenance, ModerationService, Pruned, Retention
from bot.moderation.limits import DAY, utc_day
from bot.storage import Database
from bot.supervisor import LoopState, Supervisor
from tests.unit.moderation.conftest import FakeClock

GUILD = 1
INTERVAL = 3600.0


class ManualSleep:
    """``sleep`` for the maintenance loop that returns only when the test moves the clock past it."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls = 0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    async def __call__(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.clock() + seconds, future))
        self.calls += 1
        await future

    def advance(self, seconds: float) -> None:
        now = self.clock.advance(seconds)
        for wake, future in list(self._sleepers):
            if wake <= now and not future.done():
                future.set_result(None)
                self._sleepers.remove((wake, future))


async def until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` with a generous deadline (the loop also waits on the database thread)."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        await asyncio.sleep(0.01)


@pytest.fixture
def moderation(db: Database) -> ModerationService:
    return ModerationService(db)


@pytest.fixture
async def sleep(clock: FakeClock) -> ManualSleep:
    return ManualSleep(clock)


@pytest.fixture
async def maintenance(
    moderation: ModerationService, clock: FakeClock, sleep: ManualSleep
) -> ModerationMaintenance:
    return ModerationMaintenance(
        moderation, Retention(audit_days=30, interval=INTERVAL), clock=clock, sleep=sleep
    )


@pytest.fixture
async def supervisor() -> AsyncIterator[Supervisor]:
    """Runs the schedule, as the App's supervisor does."""
    owner = Supervisor()
    yield owner
    await owner.close()


def start(supervisor: Supervisor, maintenance: ModerationMaintenance) -> None:
    supervisor.loop("moderation-maintenance", maintenance.run, critical=False)


async def _quota_days(moderation: ModerationService, seeded: dt.date) -> list[int]:
    """Which of the seeded quota days (0 = the day of seeding, -1 the day before...) are still counted."""
    return [
        offset
        for offset in (-3, -2, -1, 0)
        if (await moderation.quotas.get_usage(GUILD, 7, seeded + dt.timedelta(days=offset))).jobs
    ]


async def _audit(moderation: ModerationService) -> list[str]:
    return sorted(e.action for e in await moderation.audit.recent(limit=100))


async def _seed(moderation: ModerationService, clock: FakeClock) -> dt.date:
    """Bans of every kind, four days of quota counts and two audit entries 31 and 29 days old;
    returns the day of seeding."""
    now = clock()
    await moderation.bans.ban(GUILD, 11, until=None)  # until lifted: never pruned
    await moderation.bans.ban(GUILD, 12, until=now + 60)  # still in force
    await moderation.bans.ban(GUILD, 13, until=now - 1)  # expired
    today = utc_day(now)
    for days_ago in (3, 2, 1, 0):
        await moderation.quotas.add_usage(GUILD, 7, today - dt.timedelta(days=days_ago), jobs=1)
    clock.advance(-31 * DAY)
    await moderation.audit.record("moderation.old", guild_id=GUILD)
    clock.advance(2 * DAY)
    await moderation.audit.record("moderation.recent", guild_id=GUILD)
    clock.advance(29 * DAY)
    return today


async def test_one_round_prunes_each_kind_and_nothing_current(
    moderation: ModerationService, maintenance: ModerationMaintenance, clock: FakeClock
) -> None:
    seeded = await _seed(moderation, clock)
    pruned = await maintenance.prune()
    assert pruned == Pruned(bans=1, quota_rows=2, audit_entries=1)
    assert await moderation.bans.get(GUILD, 11) is not None
    assert await moderation.bans.get(GUILD, 12) is not None
    assert await moderation.bans.get(GUILD, 13) is None
    assert await _quota_days(moderation, seeded) == [-1, 0]  # yesterday and today
    assert await _audit(moderation) == ["moderation.recent"]
    assert await maintenance.prune() == Pruned()


async def test_the_schedule_prunes_at_start_and_then_every_interval(
    moderation: ModerationService,
    maintenance: ModerationMaintenance,
    supervisor: Supervisor,
    clock: FakeClock,
    sleep: ManualSleep,
) -> None:
    seeded = await _seed(moderation, clock)
    start(supervisor, maintenance)
    await until(lambda: sleep.calls == 1)  # the first round ran at start
    assert await moderation.bans.get(GUILD, 13) is None
    assert await moderation.bans.get(GUILD, 12) is not None
    assert await _audit(moderation) == ["moderation.recent"]
    assert await _quota_days(moderation, seeded) == [-1, 0]

    # Time passes: the ban of 12 runs out, the recent entry grows old, a new day starts.
    sleep.advance(INTERVAL - 1)
    assert sleep.calls == 1  # not yet
    clock.advance(2 * DAY)
    await moderation.audit.record("moderation.newest", guild_id=GUILD)
    sleep.advance(1)
    await until(lambda: sleep.calls == 2)
    assert await moderation.bans.get(GUILD, 12) is None
    assert await moderation.bans.get(GUILD, 11) is not None
    assert await _audit(moderation) == ["moderation.newest"]
    assert await _quota_days(moderation, seeded) == []  # the newest count is from two days ago now
    assert supervisor.health["moderation-maintenance"].state is LoopState.RUNNING


async def test_a_failed_round_is_logged_and_the_next_one_runs(
    db: Database,
    moderation: ModerationService,
    maintenance: ModerationMaintenance,
    supervisor: Supervisor,
    clock: FakeClock,
    sleep: ManualSleep,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _seed(moderation, clock)
    await db.execute("ALTER TABLE audit_log RENAME TO audit_log_away")
    with caplog.at_level(logging.ERROR, logger="bot.moderation.maintenance"):
        start(supervisor, maintenance)
        await until(lambda: sleep.calls == 1)
    assert "pruning moderation data failed" in caplog.text
    assert supervisor.health["moderation-maintenance"].restarts == 0  # the loop itself lives on
    await db.execute("ALTER TABLE audit_log_away RENAME TO audit_log")
    sleep.advance(INTERVAL)
    await until(lambda: sleep.calls == 2)
    assert await _audit(moderation) == ["moderation.recent"]
