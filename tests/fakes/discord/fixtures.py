"""pytest fixtures: import them into a ``conftest.py``::

    from tests.fakes.discord.fixtures import (  # noqa: F401
        fake_discord,
        fake_discord_factory,
        fake_discord_options,
    )

``fake_discord`` is a started :class:`FakeDiscord` with discord.py pointed at it. Configure it by
overriding ``fake_discord_options`` (a dict of ``FakeDiscord`` keyword arguments) in a module/class,
or create the fake yourself with ``await fake_discord_factory(ack_deadline=0.3)``. On teardown every
client started with ``start_client`` is closed, the server stops, and the test fails if the fake saw
unexpected requests (set ``fake.fail_on_unexpected = False`` to opt out).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from .client import point_discord_at
from .server import FakeDiscord


@pytest.fixture
def fake_discord_options() -> dict[str, Any]:
    return {}


@pytest.fixture
async def fake_discord_factory(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Callable[..., Awaitable[FakeDiscord]]]:
    started: list[FakeDiscord] = []

    async def factory(**options: Any) -> FakeDiscord:
        if started:
            raise RuntimeError("one FakeDiscord per test: discord.py's Route.BASE is process-wide")
        fake = FakeDiscord(**options)
        await fake.start()
        started.append(fake)
        point_discord_at(monkeypatch, fake)
        return fake

    yield factory
    for fake in started:
        await fake.stop()
        fake.check_unexpected()


@pytest.fixture
async def fake_discord(
    fake_discord_factory: Callable[..., Awaitable[FakeDiscord]], fake_discord_options: dict[str, Any]
) -> FakeDiscord:
    return await fake_discord_factory(**fake_discord_options)
