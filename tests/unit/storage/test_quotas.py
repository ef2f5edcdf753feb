"""QuotaRepository: daily usage adds up per member, guild and day."""

from __future__ import annotations

import datetime as dt

from bot.storage import Database, QuotaRepository, Usage

DAY = dt.date(2025, 3, 1)


async def test_usage_adds_up(db: Database) -> None:
    quotas = QuotaRepository(db)
    assert await quotas.get_usage(1, 42, DAY) == Usage()
    assert await quotas.add_usage(1, 42, DAY, jobs=1) == Usage(1, 0.0)
    assert await quotas.add_usage(1, 42, DAY, gpu_seconds=12.5) == Usage(1, 12.5)
    assert await quotas.add_usage(1, 42, DAY, jobs=1, gpu_seconds=2.5) == Usage(2, 15.0)
    assert await quotas.get_usage(1, 42, DAY + dt.timedelta(days=1)) == Usage()
    assert await quotas.get_usage(2, 42, DAY) == Usage()


async def test_no_guild_and_guild_totals(db: Database) -> None:
    quotas = QuotaRepository(db)
    await quotas.add_usage(None, 42, DAY, jobs=3)
    await quotas.add_usage(1, 42, DAY, jobs=1, gpu_seconds=4)
    await quotas.add_usage(1, 43, DAY, jobs=2, gpu_seconds=6)
    assert await quotas.get_usage(None, 42, DAY) == Usage(3, 0.0)
    assert await quotas.guild_usage(1, DAY) == Usage(3, 10.0)
    assert await quotas.guild_usage(9, DAY) == Usage()


async def test_prune_before(db: Database) -> None:
    quotas = QuotaRepository(db)
    await quotas.add_usage(1, 42, DAY - dt.timedelta(days=2), jobs=1)
    await quotas.add_usage(1, 42, DAY, jobs=1)
    assert await quotas.prune_before(DAY) == 1
    assert await quotas.get_usage(1, 42, DAY) == Usage(1, 0.0)
