from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import BotUnderTest
from tests.e2e.moderation_support import MovableClock

#: moderation limits that would otherwise refuse the quick succession of jobs these tests make
RELAXED = {"cooldown_seconds": "0", "max_queued_per_user": "0", "daily_jobs": "0"}


@pytest.fixture
def clock() -> MovableClock:
    """The bot's wall clock; a test moves it (past a cooldown, across the UTC day)."""
    return MovableClock()


@pytest.fixture
def bot_env() -> dict[str, str]:
    """Extra settings for the ``bot`` fixture (a module overrides this fixture, e.g. WORKFLOWS_DIR)."""
    return {}


@pytest.fixture
def bot_options() -> dict[str, Any]:
    """Extra App/client keyword arguments for the ``bot`` fixture (a module overrides this fixture)."""
    return {}


@pytest.fixture
async def bot(
    fake_discord,
    fake_comfy,
    tmp_path: Path,
    clock: MovableClock,
    bot_env: dict[str, str],
    bot_options: dict[str, Any],
) -> AsyncIterator[BotUnderTest]:
    """A bot under the DEFAULT moderation settings (cooldown, queue limit and daily quota on)."""
    under_test = BotUnderTest(
        fake_discord,
        tmp_path / "data",
        [fake_comfy.base_url],
        env=bot_env,
        options={"clock": clock, **bot_options},
    )
    await under_test.start()
    yield under_test
    await under_test.stop()


@pytest.fixture
async def make_bot(
    fake_discord_factory, fake_comfy, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[BotUnderTest]]]:
    """``await make_bot(env=..., options=..., policy=..., fake=..., backends=..., **fake_discord_options)``:
    a started bot with its own fake Discord (made from the options unless given) and relaxed moderation
    limits (``policy`` overrides them); stopped before the fakes."""
    made: list[BotUnderTest] = []

    async def make(
        *,
        fake: Any = None,
        backends: list[str] | None = None,
        env: dict[str, str] | None = None,
        options: dict[str, Any] | None = None,
        policy: dict[str, str] | None = None,
        wait_backends: bool = True,
        **fake_options: Any,
    ) -> BotUnderTest:
        if fake is None:
            fake = await fake_discord_factory(**fake_options)
        under_test = BotUnderTest(
            fake,
            tmp_path / "data",
            [fake_comfy.base_url] if backends is None else backends,
            env=env or {},
            options=options or {},
            policy={**RELAXED, **(policy or {})},
            wait_backends=wait_backends,
        )
        made.append(under_test)
        await under_test.start()
        return under_test

    yield make
    for under_test in reversed(made):
        await under_test.stop()
