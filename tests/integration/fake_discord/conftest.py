from __future__ import annotations

import asyncio

import pytest


@pytest.fixture(autouse=True)
async def _no_leaked_tasks():
    """Runs last on teardown (autouse fixtures are set up first): nothing may outlive the test."""
    yield
    current = asyncio.current_task()
    for _ in range(3):
        await asyncio.sleep(0)
    leaked = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    assert leaked == [], f"tasks leaked by the test: {leaked}"
