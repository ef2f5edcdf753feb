"""Held results in the engine: the sink holds or withholds, a moderator releases or withholds, the
deliverer delivers released results (retried, resumed after a restart), the janitor keeps held ones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.jobmodel.model import Job, OutputRef
from bot.jobmodel.states import IllegalTransition, JobState
from bot.jobs.delivery import Receipt
from bot.jobs.engine import EngineLimits
from bot.storage import DeliveryKind
from tests.integration.engine_harness import Harness, build_harness


@dataclass
class ScreeningSink:
    """Like the Discord publisher with output screening: holds (or withholds) every result it is given
    for the first time, delivers released ones; can fail its next ``fail_next`` posts."""

    outcome: JobState = JobState.HELD
    calls: list[tuple[str, str, JobState]] = field(default_factory=list)
    fail_next: int = 0

    async def deliver(self, job: Job, outputs: Sequence[OutputRef]) -> Receipt:
        self.calls.append(("result", job.id, job.state))
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("discord said no")
        assert all(o.path.exists() for o in outputs)
        if job.state is JobState.RELEASED:
            return Receipt(job.channel_id, (2,))
        return Receipt(job.channel_id, (1,), outcome=self.outcome)

    async def notify_end(self, job: Job) -> Receipt:
        self.calls.append(("notice", job.id, job.state))
        return Receipt(job.channel_id, (3,))


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as s:
        yield s


async def _harness(stack: AsyncExitStack, data: Path, fake: Any, sink: ScreeningSink) -> Harness:
    # No retention at all: whatever the janitor may sweep, it sweeps at once.
    h = await build_harness(stack, data, [fake.base_url], limits=EngineLimits(retention_seconds=0.0))
    h.engine.set_sink(sink)
    await h.wait_healthy()
    return h


async def test_held_results_stay_until_released_then_are_delivered(fake_comfy, stack, tmp_path) -> None:
    sink = ScreeningSink()
    h = await _harness(stack, tmp_path / "data", fake_comfy, sink)
    job = await h.submit()
    held = await h.wait_state(job.id, JobState.HELD)
    assert held.finished_at is not None
    hold = await h.engine.deliveries.get(job.id, DeliveryKind.HOLD)
    assert hold is not None
    assert hold.message_ids == (1,)
    assert await h.engine.deliveries.get(job.id, DeliveryKind.RESULT) is None
    assert job.id not in await h.engine.sweep_spool()
    assert all(o.path.exists() for o in await h.engine.outputs.list_for_job(job.id))

    async with h.db.transaction():
        released = await h.engine.release(job.id)
    assert released.state is JobState.RELEASED
    await h.wait_state(job.id, JobState.DELIVERED)
    assert sink.calls == [("result", job.id, JobState.SUCCEEDED), ("result", job.id, JobState.RELEASED)]
    result = await h.engine.deliveries.get(job.id, DeliveryKind.RESULT)
    assert result is not None
    assert result.message_ids == (2,)
    with pytest.raises(IllegalTransition):
        await h.engine.release(job.id)  # decided once
    assert job.id in await h.engine.sweep_spool()  # delivered: the janitor may take it now


async def test_a_failed_release_post_is_retried(fake_comfy, stack, tmp_path) -> None:
    sink = ScreeningSink()
    h = await _harness(stack, tmp_path / "data", fake_comfy, sink)
    job = await h.submit()
    await h.wait_state(job.id, JobState.HELD)
    sink.fail_next = 2
    await h.engine.release(job.id)
    await h.wait_state(job.id, JobState.DELIVERED)
    assert [c for c in sink.calls if c[2] is JobState.RELEASED] == [("result", job.id, JobState.RELEASED)] * 3


async def test_a_release_interrupted_by_a_restart_is_delivered_after_it(fake_comfy, stack, tmp_path) -> None:
    data = tmp_path / "data"
    first = AsyncExitStack()
    sink = ScreeningSink()
    h1 = await _harness(first, data, fake_comfy, sink)
    job = await h1.submit()
    await h1.wait_state(job.id, JobState.HELD)
    h1.engine.deliverer.pause = lambda failures: 3600.0
    sink.fail_next = 1
    await h1.engine.release(job.id)
    await _until(lambda: h1.engine.deliverer.failures.get(job.id) == 1)
    await first.aclose()  # stopped before the retry
    again = ScreeningSink()
    h2 = await _harness(stack, data, fake_comfy, again)
    await h2.wait_state(job.id, JobState.DELIVERED)
    assert again.calls == [("result", job.id, JobState.RELEASED)]


async def test_withheld_by_a_moderator_tells_the_member_once(fake_comfy, stack, tmp_path) -> None:
    sink = ScreeningSink()
    h = await _harness(stack, tmp_path / "data", fake_comfy, sink)
    job = await h.submit()
    await h.wait_state(job.id, JobState.HELD)
    withheld = await h.engine.withhold(job.id, "Not here.")
    assert withheld.failure_reason == "Not here."
    await _until(lambda: ("notice", job.id, JobState.WITHHELD) in sink.calls)
    assert await h.engine.deliveries.was_delivered(job.id, DeliveryKind.STATUS)
    assert job.id in await h.engine.sweep_spool()
    with pytest.raises(IllegalTransition):
        await h.engine.release(job.id)


async def test_results_the_sink_withholds_end_without_a_second_notice(fake_comfy, stack, tmp_path) -> None:
    sink = ScreeningSink(outcome=JobState.WITHHELD)
    h = await _harness(stack, tmp_path / "data", fake_comfy, sink)
    job = await h.submit()
    await h.wait_state(job.id, JobState.WITHHELD)
    # The sink told the member itself (its notice is the status delivery): nothing is sent again.
    assert await h.engine.deliveries.was_delivered(job.id, DeliveryKind.STATUS)
    assert await h.engine.jobs.list_unnotified() == []
    assert sink.calls == [("result", job.id, JobState.SUCCEEDED)]


async def _until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met"
        await asyncio.sleep(0.01)
