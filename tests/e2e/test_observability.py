"""The metrics that used to stay at 0: Discord requests and rate limits counted from discord.py's own HTTP
session, filter verdicts and review decisions from moderation; and the moderation maintenance task the
composition root owns."""

from __future__ import annotations

from bot.jobmodel.states import JobState
from bot.supervisor import LoopState
from tests.e2e.harness import BotUnderTest
from tests.e2e.moderation_support import reply_of, run_job, set_setting
from tests.unit.observability.test_metrics import samples, value


async def test_discord_requests_and_429s_reach_the_metrics(bot: BotUnderTest) -> None:
    fake = bot.fake
    app = bot.app
    assert app is not None
    assert app.metrics is not None
    await set_setting(fake, "cooldown_seconds", "0")
    before = samples(app.metrics)
    # The next edit of any message is answered 429 once; discord.py waits and sends it again.
    limited = fake.inject_errors("PATCH *", 429, count=1, retry_after=0.01)
    _, job_id = await run_job(fake, options={"prompt": "a lighthouse at dusk"})
    await bot.wait_job(job_id, JobState.DELIVERED)
    assert limited.hits, "the 429 was never served"

    found = samples(app.metrics)
    assert value(found, "comfycord_discord_rate_limited_total") == 1 + (
        value(before, "comfycord_discord_rate_limited_total") or 0
    )
    assert (value(found, "comfycord_discord_requests_total", kind="response") or 0) >= 1
    assert (value(found, "comfycord_discord_requests_total", kind="edit") or 0) >= 2  # the 429 and its retry


async def test_filter_verdicts_are_counted(bot: BotUnderTest) -> None:
    fake = bot.fake
    app = bot.app
    assert app is not None
    assert app.metrics is not None
    await set_setting(fake, "blocked_terms", "dragon*")
    refused = await reply_of(fake, await fake.slash("imagine", {"prompt": "a red dragon"}))
    assert "blocked term" in refused
    assert value(samples(app.metrics), "comfycord_filter_outcomes_total", action="block") == 1


async def test_the_app_runs_the_moderation_maintenance_until_it_stops(bot: BotUnderTest) -> None:
    app = bot.app
    assert app is not None
    assert app.maintenance is not None
    health = app.frontend.health["moderation-maintenance"]
    assert health.state is LoopState.RUNNING
    await bot.stop()
    assert health.state is LoopState.STOPPED
