"""Fixtures for the moderation tests: a database under a clock that only moves when told to."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.storage import Database

# 2025-03-01 23:59:00 UTC: one minute before a quota day ends.
LATE_EVENING = dt.datetime(2025, 3, 1, 23, 59, tzinfo=dt.UTC).timestamp()


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: float = LATE_EVENING) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def db(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Database]:
    async with await Database.open(tmp_path / "db.sqlite3", clock=clock) as database:
        yield database
