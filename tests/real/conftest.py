"""The real tier: the CLI and the whole bot against real ComfyUI servers.

Skipped unless ``COMFYUI_REAL_URLS`` names one or more real servers (comma-separated). The
kill-and-restart test also needs ``COMFYUI_REAL_START``: a shell command with ``{port}`` that starts
one more server of the same build on that port. See tests/real/README.md.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.harness import BotUnderTest
from tests.real import workflows
from tests.real.servers import OwnServer, RealServer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
URLS = [u.strip().rstrip("/") for u in os.environ.get("COMFYUI_REAL_URLS", "").split(",") if u.strip()]
START = os.environ.get("COMFYUI_REAL_START", "").strip()
SKIP_NO_URLS = (
    "real tier: set COMFYUI_REAL_URLS=http://127.0.0.1:PORT[,http://...] to real ComfyUI servers "
    "(build one with ../shared/real-comfyui/setup.sh; see tests/real/README.md)"
)
SKIP_NO_START = (
    "real tier: set COMFYUI_REAL_START to a command with {port} that starts one more real ComfyUI "
    "(e.g. 'bash ../shared/real-comfyui/setup.sh --start /work/real-comfyui {port}')"
)
#: per-test limit: the first job on a fresh server loads a 2 GB checkpoint (about 30 s on a CPU)
TIMEOUT = 420
#: moderation limits that would refuse the quick succession of jobs these tests make
RELAXED = {"cooldown_seconds": "0", "max_queued_per_user": "0", "daily_jobs": "0"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE not in item.path.parents:
            continue  # this hook sees the whole session's items
        item.add_marker(pytest.mark.real)
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TIMEOUT))
        if not URLS:
            item.add_marker(pytest.mark.skip(reason=SKIP_NO_URLS))
        elif item.get_closest_marker("needs_start") and not START:
            item.add_marker(pytest.mark.skip(reason=SKIP_NO_START))


@pytest.fixture(scope="session")
def real_urls() -> list[str]:
    return list(URLS)


@pytest.fixture(scope="session")
def real_workflows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return workflows.build(tmp_path_factory.mktemp("real-workflows"))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def servers(http: aiohttp.ClientSession, real_urls: list[str]) -> AsyncIterator[list[RealServer]]:
    """Every real server, checked to answer; afterwards, whatever the test left queued is removed."""
    found = [RealServer(url, http) for url in real_urls]
    for server in found:
        if not await server.answers():
            pytest.fail(f"COMFYUI_REAL_URLS names {server.url}, which does not answer /system_stats")
    yield found
    for server in found:
        if await server.answers():
            await server.stop_prompts()
            await server.wait_idle(timeout=120)


@pytest.fixture
def by_name(servers: list[RealServer]) -> Callable[[str | None], RealServer]:
    """The server a job ran on, from the bot's backend name (``host:port``)."""
    table = {s.name: s for s in servers}

    def find(name: str | None) -> RealServer:
        assert name in table, f"job ran on {name!r}, not one of {sorted(table)}"
        return table[name]

    return find


@pytest.fixture
async def own_server(http: aiohttp.ClientSession) -> AsyncIterator[OwnServer]:
    """One more real server, started from COMFYUI_REAL_START, that the test may kill and restart."""
    server = OwnServer(START)
    await server.start(http)
    yield server
    await server.kill(http)


@pytest.fixture
async def real_bot(
    fake_discord_factory: Callable[..., Awaitable[Any]],
    real_workflows: Path,
    real_urls: list[str],
    servers: list[RealServer],
    tmp_path: Path,
) -> AsyncIterator[Callable[..., Awaitable[BotUnderTest]]]:
    """``await real_bot(backends=..., env=..., policy=..., **fake_discord_options)``: a started bot (App,
    real discord.py, the fake Discord) whose backends are the real servers (all unless ``backends``)."""
    made: list[BotUnderTest] = []

    async def make(
        *,
        backends: list[str] | None = None,
        env: dict[str, str] | None = None,
        policy: dict[str, str] | None = None,
        wait_backends: bool = True,
        **fake_options: Any,
    ) -> BotUnderTest:
        fake = await fake_discord_factory(**fake_options)
        under_test = BotUnderTest(
            fake,
            tmp_path / "data",
            list(real_urls if backends is None else backends),
            env={"WORKFLOWS_DIR": str(real_workflows), "COMFYUI_TIMEOUT": "30", **(env or {})},
            policy={**RELAXED, **(policy or {})},
            wait_backends=wait_backends,
        )
        made.append(under_test)
        await under_test.start()
        return under_test

    yield make
    for under_test in reversed(made):
        await under_test.stop()
