"""Every command under the DEFAULT moderation settings (cooldown, queue limit and daily quota on), as a
server gets them on the day it adds the bot: the relaxed settings of the other e2e tests hide what
limits do to restarts, retries and buttons."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.jobmodel.states import JobState
from bot.moderation import GuildPolicy, utc_day
from bot.storage import IntakeRepository
from tests.e2e.harness import BotUnderTest, button_labels, job_id_of, png, private_reply, status_of
from tests.e2e.moderation_support import MovableClock, reply_of

DEFAULTS = GuildPolicy()
RESULT_BUTTONS = ["Re-roll", "Edit", "Delete"]


def test_the_defaults_limit_members() -> None:
    assert DEFAULTS.cooldown_seconds > 0
    assert DEFAULTS.max_queued_per_user > 0
    assert DEFAULTS.daily_jobs > 0


async def usage(bot: BotUnderTest, clock: MovableClock) -> Any:
    return await bot.engine.quotas.get_usage(int(bot.fake.guild.id), int(bot.fake.user.id), utc_day(clock()))


async def delivered(bot: BotUnderTest, record: Any) -> tuple[Any, Any]:
    message = await status_of(bot.fake, record)
    job = await bot.wait_job(job_id_of(message), JobState.DELIVERED)
    return job, bot.fake.message(message.id)


COMMANDS: list[tuple[str, dict[str, Any], list[tuple[str, bytes, str]]]] = [
    ("imagine", {"prompt": "a lighthouse at dusk", "steps": 4}, []),
    ("img2img", {"prompt": "make it blue"}, [("in.png", png((96, 64)), "image/png")]),
    (
        "inpaint",
        {"prompt": "a window"},
        [("room.png", png((96, 64)), "image/png"), ("mask.png", png((96, 64), (255, 255, 255)), "image/png")],
    ),
    ("upscale", {}, [("small.png", png((32, 32)), "image/png")]),
    ("invert", {}, [("in.png", png((40, 30)), "image/png")]),
]


async def test_every_template_command_runs_under_the_default_limits(bot: BotUnderTest, clock) -> None:
    for number, (command, options, attachments) in enumerate(COMMANDS, start=1):
        record = await bot.fake.slash(command, options, attachments=attachments or None)
        job, message = await delivered(bot, record)
        assert job.template == command
        assert message.attachments, command
        assert [b for b in button_labels(message) if b in RESULT_BUTTONS] == RESULT_BUTTONS
        assert (await usage(bot, clock)).jobs == number
        clock.advance(DEFAULTS.cooldown_seconds + 1)


async def test_the_cooldown_refuses_a_second_request_and_keeps_the_first_result(
    bot: BotUnderTest, clock
) -> None:
    first, message = await delivered(bot, await bot.fake.slash("imagine", {"prompt": "one", "steps": 4}))
    again = await bot.fake.slash("imagine", {"prompt": "two", "steps": 4})
    reply = await private_reply(bot.fake, again)
    assert reply.content.startswith("Please wait")
    assert again.original_message is None or again.original_message.deleted
    assert not bot.fake.message(message.id).deleted
    assert (await usage(bot, clock)).jobs == 1
    clock.advance(DEFAULTS.cooldown_seconds)
    second, _ = await delivered(bot, await bot.fake.slash("imagine", {"prompt": "two", "steps": 4}))
    assert second.id != first.id


async def test_the_queue_limit_counts_open_jobs(bot: BotUnderTest, fake_comfy, clock) -> None:
    fake_comfy.step_delay = 0.2
    jobs = []
    for n in range(DEFAULTS.max_queued_per_user):
        message = await status_of(bot.fake, await bot.fake.slash("imagine", {"prompt": f"p{n}"}))
        jobs.append(job_id_of(message))
        clock.advance(DEFAULTS.cooldown_seconds + 1)
    over = await bot.fake.slash("imagine", {"prompt": "one too many"})
    assert "the limit is 3" in (await private_reply(bot.fake, over)).content
    fake_comfy.step_delay = 0.0
    for job_id in jobs:
        await bot.wait_job(job_id, JobState.DELIVERED)


async def test_general_commands_under_the_default_limits(bot: BotUnderTest, fake_comfy, clock) -> None:
    job, _ = await delivered(bot, await bot.fake.slash("imagine", {"prompt": "shown again", "steps": 4}))
    assert job.id in await reply_of(bot.fake, await bot.fake.slash("jobs"))
    assert "You have no jobs waiting." in await reply_of(bot.fake, await bot.fake.slash("queue"))
    assert "1" in await reply_of(bot.fake, await bot.fake.slash("quota"))
    shown = await status_of(bot.fake, await bot.fake.slash("show", {"job": job.id}))
    await bot.fake.wait_for(lambda: bot.fake.message(shown.id).attachments)
    clock.advance(DEFAULTS.cooldown_seconds + 1)
    fake_comfy.step_delay = 0.3
    running = await status_of(bot.fake, await bot.fake.slash("imagine", {"prompt": "stop me"}))
    await bot.wait_job(job_id_of(running), JobState.RUNNING)
    cancel = await bot.fake.slash("cancel", {"job": job_id_of(running)})
    assert "Cancelled" in (await private_reply(bot.fake, cancel)).content
    await bot.wait_job(job_id_of(running), JobState.CANCELLED)
    assert (await usage(bot, clock)).jobs == 2  # /show and /cancel cost nothing


async def test_a_restart_with_a_delivered_command_still_journalled_keeps_the_result(
    bot: BotUnderTest, clock, monkeypatch
) -> None:
    """The process died after the job was delivered but before the command left the journal (what a
    SIGKILL at that moment leaves behind). Recovery must re-attach, not judge again: under the default
    cooldown a second judgement refused the job's own command and deleted the member's result."""
    assert bot.app is not None
    assert bot.app.bot is not None
    controller = bot.app.bot.controller

    async def keep_journal(interaction_id: object) -> None:
        return None  # SIGKILL: no clean-up runs

    monkeypatch.setattr(controller.intake, "done", keep_journal)
    record = await bot.fake.slash("imagine", {"prompt": "keep me", "steps": 4})
    job, message = await delivered(bot, record)
    files = [a.filename for a in message.attachments]
    await bot.restart()
    journal = IntakeRepository(bot.engine.db)
    deadline = asyncio.get_running_loop().time() + 15
    while await journal.pending():  # recovery handles the entry once the new client is ready
        assert asyncio.get_running_loop().time() < deadline, "the journalled command was never recovered"
        await asyncio.sleep(0.01)
    after = bot.fake.message(message.id)
    assert not after.deleted
    assert [a.filename for a in after.attachments] == files
    assert [b for b in button_labels(after) if b in RESULT_BUTTONS] == RESULT_BUTTONS
    assert (await usage(bot, clock)).jobs == 1  # charged once
    assert [j.id for j in await bot.engine.jobs.list_by_user(bot.fake.user.id)] == [job.id]
    assert not [m for m in bot.fake.state.channel_messages(bot.fake.channel) if "Please wait" in m.content]
