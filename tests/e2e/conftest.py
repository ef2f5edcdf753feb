from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.harness import BotUnderTest


@pytest.fixture
async def bot(fake_discord, fake_comfy, tmp_path: Path) -> AsyncIterator[BotUnderTest]:
    under_test = BotUnderTest(fake_discord, tmp_path / "data", [fake_comfy.base_url])
    await under_test.start()
    yield under_test
    await under_test.stop()
