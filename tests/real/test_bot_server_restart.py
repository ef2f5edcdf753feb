"""A real server killed (SIGKILL) under running and waiting jobs, then started again on the same port:
the member's jobs run again with the same seed and are delivered once; nothing is shown as failed."""

from __future__ import annotations

import aiohttp
import pytest

from bot.jobmodel.states import JobState
from tests.e2e.harness import BotUnderTest, embed_text
from tests.real.servers import OwnServer, RealServer
from tests.real.support import command, delivered, poll, versions

pytestmark = [pytest.mark.needs_start, pytest.mark.timeout(900)]


async def _prompt_running(server: RealServer, job_id: str) -> bool:
    queue = await server.queue()
    return bool(set(queue.of_job(job_id)) & set(queue.running))


@pytest.mark.parametrize("back", ["at_once", "after_the_grace"])
async def test_jobs_on_a_killed_and_restarted_server_are_delivered_once(
    back: str, real_bot, own_server: OwnServer, http: aiohttp.ClientSession
) -> None:
    """``at_once``: the server is back within the bot's reconnect grace (30 s); ``after_the_grace``: the
    bot has given the run up and queued the jobs again before the server returns."""
    server = RealServer(own_server.url, http)
    bot: BotUnderTest = await real_bot(backends=[own_server.url], env={"COMFYUI_MAX_IN_FLIGHT": "2"})
    running_message, running = await command(bot, "slow", {"steps": 200, "delay": 0.1, "seed": 41})
    waiting_message, waiting = await command(bot, "slow", {"steps": 4, "delay": 0.1, "seed": 42})
    await poll(lambda: _prompt_running(server, running), 120, "the first prompt running")
    await poll(lambda: _pending(server, waiting), 60, "the second prompt pending on the server")

    await own_server.kill(http)
    if back == "after_the_grace":
        await poll(lambda: _requeued(bot, running), 120, "the bot queueing the job again")
    await own_server.start(http)

    jobs = [await delivered(bot, job_id, timeout=420) for job_id in (running, waiting)]
    for job, message, seed in zip(jobs, (running_message, waiting_message), (41, 42), strict=True):
        final = bot.fake.message(message.id)
        assert len(final.attachments) == 1, "delivered once, on the same status message"
        assert job.params["seed"] == seed, "run again with the member's seed"
        texts = [embed_text(v) for v in versions(final)]
        assert not [t for t in texts if "Failed" in t], texts
        (entry,) = await server.history_of_job(job.id)  # the new process's history: one successful run
        assert entry.succeeded
        assert entry.prompt_id == job.prompt_id
        graph = entry.raw["prompt"][2]
        assert [n["inputs"]["seed"] for n in graph.values() if n["class_type"] == "SlowSteps"] == [seed]
    posted = [m for m in bot.fake.channel_messages() if m.attachments]
    assert len(posted) == 2, "no duplicate deliveries"


async def _pending(server: RealServer, job_id: str) -> bool:
    queue = await server.queue()
    return bool(set(queue.of_job(job_id)) & set(queue.pending))


async def _requeued(bot: BotUnderTest, job_id: str) -> bool:
    job = await bot.engine.jobs.get(job_id)
    return job.state is JobState.QUEUED


async def test_a_job_whose_server_dies_for_good_moves_to_another_server(
    real_bot, own_server: OwnServer, servers: list[RealServer], http: aiohttp.ClientSession
) -> None:
    """One job on each server (one prompt in flight per server); the tier's own server is killed and
    stays down: its job runs again on the other server once the reconnect grace is over."""
    other = servers[0]
    mine = RealServer(own_server.url, http)
    bot: BotUnderTest = await real_bot(
        backends=[own_server.url, other.url], env={"COMFYUI_MAX_IN_FLIGHT": "1"}
    )
    started = [await command(bot, "slow", {"steps": 150, "delay": 0.1, "seed": seed}) for seed in (51, 52)]
    ids = [job_id for _, job_id in started]

    async def job_on_mine() -> str | None:
        for job_id in ids:
            if await _prompt_running(mine, job_id):
                return job_id
        return None

    on_mine = await poll(job_on_mine, 120, "one of the jobs running on the server to be killed")
    await own_server.kill(http)
    job = await delivered(bot, on_mine, timeout=420)
    assert job.backend == other.name
    assert job.params["seed"] in (51, 52)
    (entry,) = await other.history_of_job(on_mine)
    assert entry.succeeded
    message = next(m for m, job_id in started if job_id == on_mine)
    assert len(bot.fake.message(message.id).attachments) == 1
    assert not [t for t in map(embed_text, versions(bot.fake.message(message.id))) if "Failed" in t]
