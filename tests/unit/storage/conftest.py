"""Fixtures for the storage tests: a fresh database per test under an injected clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.jobs import Job, JobState, new_job, new_job_id
from bot.storage import Database, JobRepository


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
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
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "comfycord.sqlite3"


@pytest.fixture
async def db(db_path: Path, clock: FakeClock) -> AsyncIterator[Database]:
    async with await Database.open(db_path, clock=clock) as database:
        yield database


@pytest.fixture
def jobs(db: Database) -> JobRepository:
    return JobRepository(db)


MakeJob = Callable[..., Job]


@pytest.fixture
def make_job(clock: FakeClock) -> MakeJob:
    """Build a new QUEUED job; keyword arguments override any field of ``new_job``."""

    def make(**overrides: Any) -> Job:
        fields: dict[str, Any] = {
            "job_id": new_job_id(),
            "guild_id": 10,
            "channel_id": 20,
            "user_id": 30,
            "template": "imagine",
            "params": {"prompt": "a lighthouse at dusk", "seed": 1234},
            "now": clock(),
            "state": JobState.QUEUED,
        }
        fields.update(overrides)
        return new_job(**fields)

    return make
