"""Progress and previews from a real server, as the member sees them in the status message and as the
engine publishes them."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from bot.jobmodel.states import JobState
from tests.e2e.harness import BotUnderTest
from tests.real.support import backwards, command, decode, delivered, shown, versions


@pytest.fixture
async def bot(real_bot) -> BotUnderTest:
    return await real_bot()


class Recorder:
    """Every update the engine publishes for any job, in order (an observer like the publisher)."""

    def __init__(self, bot: BotUnderTest) -> None:
        self.updates: list = []
        self._box = bot.engine.updates.subscribe()
        self._task = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        while True:
            self.updates.extend(await self._box.get())

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def of(self, job_id: str) -> list:
        return [u for u in self.updates if u.job.id == job_id]


def _running(updates: list) -> list:
    return [u for u in updates if u.state in (JobState.DISPATCHED, JobState.RUNNING)]


async def test_the_status_message_never_shows_less_progress_than_before(bot: BotUnderTest) -> None:
    message, job_id = await command(bot, "imagine", {"prompt": "a slow sunrise", "size": "tiny", "steps": 8})
    await delivered(bot, job_id)
    seen = [s for s in map(shown, versions(bot.fake.message(message.id))) if s is not None]
    assert len(seen) >= 3, f"several progress versions while running: {seen}"
    assert backwards(s.percent for s in seen) == [], seen
    sampler_steps = [s.step[0] for s in seen if s.node == "KSampler" and s.step]
    assert sampler_steps, f"the sampler's steps were shown: {seen}"
    assert backwards(sampler_steps) == [], seen
    assert max(s.step[1] for s in seen if s.step) == 8


async def test_the_engine_never_publishes_less_progress_than_before(bot: BotUnderTest) -> None:
    recorder = Recorder(bot)
    try:
        _, job_id = await command(bot, "imagine", {"prompt": "a slow dusk", "size": "tiny", "steps": 4})
        await delivered(bot, job_id)
    finally:
        await recorder.close()
    running = _running(recorder.of(job_id))
    assert running, recorder.of(job_id)
    overall = [u.overall or 0.0 for u in running]
    assert backwards(overall) == [], [(u.state.value, u.node, u.overall) for u in running]
    order = [JobState.DISPATCHED, JobState.RUNNING]
    assert backwards(order.index(u.state) for u in running) == [], [u.state.value for u in running]
    first_node = next(i for i, u in enumerate(running) if u.node is not None)
    assert all(u.node is not None for u in running[first_node:]), [(u.state.value, u.node) for u in running]


async def test_steps_of_one_node_never_go_backwards_in_the_engine(bot: BotUnderTest) -> None:
    recorder = Recorder(bot)
    try:
        _, job_id = await command(bot, "slow", {"steps": 12, "delay": 0.15})
        await delivered(bot, job_id)
    finally:
        await recorder.close()
    steps = [u.step for u in _running(recorder.of(job_id)) if u.node == "SlowSteps" and u.step is not None]
    # (An observer's mailbox keeps the latest update per job, so it may not see every step.)
    assert len(steps) >= 3, steps
    assert backwards(steps) == [], steps


async def test_live_previews_from_a_real_sampler_reach_the_status_message(bot: BotUnderTest) -> None:
    message, job_id = await command(bot, "slow", {"steps": 16, "delay": 0.4})

    def preview():
        current = bot.fake.message(message.id)
        return next((a for a in current.attachments if a.filename == "preview.jpg"), None)

    attachment = await bot.fake.wait_for(preview, timeout=120)
    image = decode(attachment.data)
    assert image.format == "JPEG"
    assert image.size == (512, 512), "ComfyUI scales previews to --preview-size (512)"
    await delivered(bot, job_id)
    final = bot.fake.message(message.id)
    assert "preview.jpg" not in final.attachment_names, "the result replaces the preview"
    assert any(s is not None and s.preview for s in map(shown, versions(final)))


async def test_a_real_ksampler_sends_previews_too(bot: BotUnderTest) -> None:
    message, job_id = await command(bot, "imagine", {"prompt": "a quick glance", "size": "tiny", "steps": 6})
    await delivered(bot, job_id)
    seen = [s for s in map(shown, versions(bot.fake.message(message.id))) if s is not None]
    assert any(s.preview and s.node == "KSampler" for s in seen), seen


async def test_a_sampler_on_its_last_steps_shows_nearly_done(bot: BotUnderTest) -> None:
    """SlowSteps is all the work of /slow (the empty latent and the save take milliseconds)."""
    recorder = Recorder(bot)
    try:
        _, job_id = await command(bot, "slow", {"steps": 40, "delay": 0.15})
        await delivered(bot, job_id)
    finally:
        await recorder.close()
    late = [u for u in _running(recorder.of(job_id)) if u.node == "SlowSteps" and u.step and u.step >= 36]
    assert late, [(u.node, u.step, u.overall) for u in _running(recorder.of(job_id))]
    assert all((u.overall or 0) >= 0.8 for u in late), [(u.step, u.overall) for u in late]
