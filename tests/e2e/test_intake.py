"""A command acknowledged by a bot that died before queueing it is finished by the next process."""

from __future__ import annotations

import asyncio

import pytest

from bot.jobmodel.states import JobState
from bot.storage import IntakeRepository
from tests.e2e.harness import BotUnderTest, job_id_of, status_of


async def _die_mid_command(bot: BotUnderTest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the running bot acknowledge commands, journal them, and then never finish them:
    what a SIGKILL between the acknowledgement and the job looks like from outside."""
    assert bot.app is not None
    assert bot.app.bot is not None
    controller = bot.app.bot.controller
    assert controller.intake is not None
    forever = asyncio.Event()

    async def hang(*args: object, **kwargs: object) -> None:
        await forever.wait()

    monkeypatch.setattr(controller, "_submit", hang)

    async def keep_journal(interaction_id: object) -> None:
        return None  # SIGKILL: no clean-up runs

    monkeypatch.setattr(controller.intake, "done", keep_journal)


async def test_a_command_interrupted_before_its_job_is_finished_after_restart(make_bot, monkeypatch) -> None:
    bot = await make_bot()
    await _die_mid_command(bot, monkeypatch)
    record = await bot.fake.slash("imagine", {"prompt": "survive the crash", "seed": 3})
    await record  # acknowledged: the member sees "thinking..."
    await bot.fake.wait_for(lambda: bot.engine is not None)
    assert await bot.engine.jobs.count_waiting() == 0, "no job yet: the process is about to die"
    await bot.restart()
    message = await status_of(bot.fake, record, timeout=15)
    job = await bot.wait_job(job_id_of(message), JobState.DELIVERED)
    assert job.params["prompt"] == "survive the crash"
    assert job.params["seed"] == 3
    assert len(await bot.engine.jobs.list_by_user(bot.fake.user.id)) == 1


async def test_a_command_whose_job_was_stored_is_not_run_twice(make_bot, monkeypatch) -> None:
    bot = await make_bot()
    assert bot.app is not None
    assert bot.app.bot is not None
    controller = bot.app.bot.controller

    async def keep_journal(interaction_id: object) -> None:
        return None

    monkeypatch.setattr(controller.intake, "done", keep_journal)  # the job is stored, then the crash
    record = await bot.fake.slash("imagine", {"prompt": "only once"})
    first = job_id_of(await status_of(bot.fake, record))
    await bot.wait_job(first, JobState.DELIVERED)
    await bot.restart()  # the journal still has the command: recovery must find the job, not copy it
    journal = IntakeRepository(bot.engine.db)
    for _ in range(500):
        if not await journal.pending():
            break
        await asyncio.sleep(0.01)
    assert await journal.pending() == [], "recovery handled the entry"
    jobs = await bot.engine.jobs.list_by_user(bot.fake.user.id)
    assert [j.id for j in jobs] == [first]
