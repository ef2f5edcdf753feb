"""Health tells the truth: a dispatcher that keeps crashing makes /healthz fail and then stops the bot;
a database that does not answer makes it fail too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.jobmodel.states import JobState
from bot.observability import Metrics, MetricsServer
from bot.supervisor import LoopState, RestartPolicy
from tests.e2e.harness import BotUnderTest, job_id_of, status_of
from tests.integration.db_faults import DbFaults, moving_to, statement


@pytest.fixture
async def bot(fake_discord, fake_comfy, tmp_path: Path) -> AsyncIterator[BotUnderTest]:
    policy = RestartPolicy(base=0.01, cap=0.02, max_crashes=5)
    under_test = BotUnderTest(
        fake_discord, tmp_path / "data", [fake_comfy.base_url], options={"restart_policy": policy}
    )
    await under_test.start()
    yield under_test
    await under_test.stop()


async def healthz(app) -> tuple[int, str]:
    assert app.engine is not None
    server = MetricsServer(
        Metrics(), pool=app.engine.pool, gateway_connected=lambda: True, port=0, checks=app.health
    )
    await server.start()
    try:
        async with aiohttp.ClientSession() as session, session.get(server.url + "/healthz") as response:
            return response.status, await response.text()
    finally:
        await server.stop()


async def test_a_dispatcher_that_keeps_crashing_fails_health_and_stops_the_bot(bot: BotUnderTest) -> None:
    app = bot.app
    assert app is not None
    assert await healthz(app) == (200, "ok\n")
    faults = DbFaults.install(bot.engine.db)
    faults.fail(moving_to("dispatched"), times=1000)
    record = await bot.fake.slash("imagine", {"prompt": "never dispatched"})
    job_id = job_id_of(await status_of(bot.fake, record))
    await bot.fake.wait_for(lambda: app.stopping.is_set(), timeout=10)
    assert app.fatal == "background loop dispatcher crashed 5 times; giving up"
    assert bot.engine.supervisor.health["dispatcher"].state is LoopState.FAILED
    status, body = await healthz(app)
    assert status == 503
    assert "dispatcher is failed (ref " in body
    assert (await bot.engine.jobs.require(job_id)).state is JobState.QUEUED  # nothing lost: it waits


async def test_a_database_that_does_not_answer_fails_health(bot: BotUnderTest) -> None:
    app = bot.app
    assert app is not None
    faults = DbFaults.install(bot.engine.db)
    stuck = faults.hold(statement("INSERT INTO jobs"))
    await bot.fake.slash("imagine", {"prompt": "stuck in the database"})
    await stuck.arrived.wait()
    problems = await app.health(database_timeout=0.05)
    assert problems == ["database not answering (TimeoutError)"]
    stuck.release()
    assert await app.health(database_timeout=5) == []
