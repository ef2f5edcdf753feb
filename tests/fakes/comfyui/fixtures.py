"""pytest fixtures for the fake ComfyUI (import them into a conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from .server import FakeComfyUI


@pytest.fixture
async def fake_comfy(tmp_path: Path) -> AsyncIterator[FakeComfyUI]:
    """A running FakeComfyUI with default settings (step_delay 0, previews on)."""
    async with FakeComfyUI(root_dir=tmp_path / "fake-comfyui") as fake:
        yield fake


@pytest.fixture
async def fake_comfy_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """`fake = await fake_comfy_factory(step_delay=0.01, previews=False)`; all are stopped at teardown."""
    async with AsyncExitStack() as stack:
        count = 0

        async def make(**settings: Any) -> FakeComfyUI:
            nonlocal count
            count += 1
            settings.setdefault("root_dir", tmp_path / f"fake-comfyui-{count}")
            return await stack.enter_async_context(FakeComfyUI(**settings))

        yield make
