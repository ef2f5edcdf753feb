"""Cancelling through Discord, checked in the real server's own /queue and /history: a running prompt is
interrupted, a prompt waiting on the server is deleted there, a job still in the bot's queue never
reaches the server."""

from __future__ import annotations

from bot.jobmodel.states import JobState
from tests.e2e.harness import BotUnderTest, private_reply
from tests.real.servers import RealServer
from tests.real.support import command, ended_with, poll

LONG = {"steps": 400, "delay": 0.1}  # 40 s of SlowSteps: long enough to act while it runs


async def _running_on(bot: BotUnderTest, server_of, job_id: str):
    """Wait until the job's prompt is the one the server executes; (job, server)."""
    job = await bot.wait_job(job_id, JobState.RUNNING, timeout=120)
    server = server_of(job.backend)
    await server.wait_for(lambda: _is_running(server, job.prompt_id), 60, "the prompt running")
    return job, server


async def _is_running(server: RealServer, prompt_id: str) -> bool:
    return prompt_id in (await server.queue()).running


async def test_cancel_button_interrupts_the_running_prompt_on_the_server(real_bot, by_name) -> None:
    bot = await real_bot()
    message, job_id = await command(bot, "slow", LONG)
    job, server = await _running_on(bot, by_name, job_id)
    click = await bot.fake.click(f"cc:cancel:{job_id}", message)
    assert f"Cancelled job `{job_id}`" in (await private_reply(bot.fake, click, timeout=30)).content
    await bot.wait_job(job_id, JobState.CANCELLED, timeout=30)
    text = await ended_with(bot, message, "Cancelled")
    assert "Cancelled" in text
    assert not bot.fake.message(message.id).attachments
    # The server stopped it (it would otherwise run for about 40 s more).
    entry = await server.wait_finished(job.prompt_id, timeout=30)
    assert entry.interrupted, entry.events
    assert not entry.succeeded
    assert job.prompt_id not in (await server.queue()).running
    assert entry.timestamps["execution_interrupted"] - entry.timestamps["execution_start"] < 30_000


async def test_cancel_of_a_prompt_waiting_on_the_server_deletes_it_there(
    real_bot, servers: list[RealServer]
) -> None:
    server = servers[0]
    bot = await real_bot(backends=[server.url], env={"COMFYUI_MAX_IN_FLIGHT": "2"})
    _, first = await command(bot, "slow", LONG)
    second_message, second = await command(bot, "slow", {"steps": 3, "delay": 0.1})
    running, _ = await _running_on(bot, lambda _: server, first)

    async def second_waits_on_server():
        queue = await server.queue()
        return queue.of_job(second) and set(queue.of_job(second)) <= set(queue.pending)

    await poll(second_waits_on_server, 60, "the second prompt pending on the server")
    (pending_id,) = (await server.queue()).of_job(second)
    reply = await private_reply(bot.fake, await bot.fake.slash("cancel", {"job": second}), timeout=30)
    assert f"Cancelled job `{second}`" in reply.content
    await bot.wait_job(second, JobState.CANCELLED, timeout=30)
    await ended_with(bot, second_message, "Cancelled")

    async def gone():
        queue = await server.queue()
        return pending_id not in queue.pending and pending_id not in queue.running

    await poll(gone, 10, "the cancelled prompt gone from the server's queue")
    queue = await server.queue()
    assert running.prompt_id in queue.running, "the other member's job runs on"
    await bot.engine.cancel(first)  # no need to wait 40 s for it
    await server.wait_idle(timeout=60)
    assert await server.history(pending_id) is None, "the cancelled prompt never ran"
    assert not await server.history_of_job(second)


async def test_cancel_of_a_job_still_in_the_bots_queue_never_reaches_the_server(
    real_bot, servers: list[RealServer]
) -> None:
    server = servers[0]
    bot = await real_bot(backends=[server.url], env={"COMFYUI_MAX_IN_FLIGHT": "1"})
    _, first = await command(bot, "slow", LONG)
    _, second = await command(bot, "slow", {"steps": 3, "delay": 0.1})
    await _running_on(bot, lambda _: server, first)
    assert (await bot.engine.jobs.get(second)).state is JobState.QUEUED
    reply = await private_reply(bot.fake, await bot.fake.slash("cancel", {"job": second}), timeout=30)
    assert f"Cancelled job `{second}`" in reply.content
    await bot.engine.cancel(first)
    await server.wait_idle(timeout=60)
    assert not (await server.queue()).of_job(second)
    assert not await server.history_of_job(second), "the server never saw it"
    job = await bot.wait_job(second, JobState.CANCELLED)
    assert job.prompt_id is None
