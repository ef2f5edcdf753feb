"""Fixtures for the observability tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.observability import Metrics
from tests.unit.observability.standins import StandInEngine, standin_engine


@pytest.fixture
def engine() -> StandInEngine:
    return standin_engine()


@pytest.fixture
async def metrics() -> AsyncIterator[Metrics]:
    metrics = Metrics()
    yield metrics
    await metrics.close()
