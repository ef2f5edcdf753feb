"""ModerationService: the database-backed entry points, and what they leave in the audit trail."""

from __future__ import annotations

import pytest

from bot.moderation.audit import AuditAction, ReviewOutcome, record_output_review, record_review
from bot.moderation.errors import SettingError
from bot.moderation.policy import RequestContext, Rule
from bot.moderation.service import ModerationService
from bot.observability import Metrics
from bot.storage import Database
from tests.unit.observability.test_metrics import samples, value

from .conftest import FakeClock

GUILD, USER, MOD = 1, 100, 200


@pytest.fixture
def service(db: Database) -> ModerationService:
    return ModerationService(db)


def request(prompt: str = "a lighthouse") -> RequestContext:
    return RequestContext(
        guild_id=GUILD, channel_id=10, user_id=USER, template="imagine", texts={"prompt": prompt}
    )


async def test_evaluate_uses_the_stored_policy_and_audits_filter_blocks(
    service: ModerationService, clock: FakeClock
) -> None:
    assert (await service.evaluate(request("gore"), clock())).allowed
    await service.change_setting(GUILD, "blocked_terms", "gore", moderator_id=MOD)
    decision = await service.evaluate(request("g0re"), clock())
    assert decision.rule is Rule.FILTER_BLOCK
    [entry] = await service.audit.recent(guild_id=GUILD, action=AuditAction.FILTER_BLOCK)
    assert (entry.actor_id, entry.target_id) == (USER, USER)
    assert entry.details == {
        "template": "imagine",
        "channel_id": 10,
        "param": "prompt",
        "term": "gore (blocked_terms)",
    }


async def test_ban_and_unban_are_audited(service: ModerationService, clock: FakeClock) -> None:
    ban = await service.ban(GUILD, USER, moderator_id=MOD, reason="spam", until=clock() + 3600, job_id="j1")
    assert (await service.evaluate(request(), clock())).rule is Rule.BANNED
    assert await service.unban(GUILD, USER, moderator_id=MOD)
    assert not await service.unban(GUILD, USER, moderator_id=MOD)
    entries = await service.audit.recent(guild_id=GUILD)
    assert [e.action for e in entries] == [AuditAction.UNBAN, AuditAction.BAN]
    banned = entries[1]
    assert (banned.actor_id, banned.target_id, banned.job_id) == (MOD, USER, "j1")
    assert banned.details == {"until": ban.until, "reason": "spam", "everywhere": False}


async def test_setting_changes_are_audited(service: ModerationService) -> None:
    change = await service.change_setting(GUILD, "review_mode", "everyone", moderator_id=MOD)
    assert change.changed
    await service.reset_setting(GUILD, "review_mode", moderator_id=MOD)
    await service.reset_setting(GUILD, "review_mode", moderator_id=MOD)  # no change: not recorded
    with pytest.raises(SettingError):
        await service.change_setting(GUILD, "review_mode", "sometimes", moderator_id=MOD)
    entries = await service.audit.recent(guild_id=GUILD, action=AuditAction.SETTING_CHANGE)
    assert [e.details for e in entries] == [
        {"key": "review_mode", "old": "everyone", "new": "flagged"},
        {"key": "review_mode", "old": "flagged", "new": "everyone"},
    ]


async def test_filter_verdicts_and_review_decisions_reach_the_counters(
    db: Database, clock: FakeClock
) -> None:
    metrics = Metrics()
    service = ModerationService(db, counters=metrics)
    await service.change_setting(GUILD, "blocked_terms", "gore", moderator_id=MOD)
    await service.change_setting(GUILD, "review_terms", "swimsuit", moderator_id=MOD)
    for prompt in ("a lighthouse", "g0re", "a swimsuit", "a cat"):
        await service.evaluate(request(prompt), clock())
    for outcome in (ReviewOutcome.APPROVE, ReviewOutcome.APPROVE, ReviewOutcome.BAN):
        await record_review(
            service.audit, outcome, guild_id=GUILD, moderator_id=MOD, member_id=USER, job_id="J"
        )
    await record_output_review(
        service.audit, released=False, guild_id=GUILD, moderator_id=MOD, member_id=USER, job_id="J"
    )
    found = samples(metrics)
    assert value(found, "comfycord_filter_outcomes_total", action="allow") == 2
    assert value(found, "comfycord_filter_outcomes_total", action="block") == 1
    assert value(found, "comfycord_filter_outcomes_total", action="review") == 1
    assert value(found, "comfycord_review_outcomes_total", decision="approve") == 2
    assert value(found, "comfycord_review_outcomes_total", decision="ban") == 1
    assert value(found, "comfycord_review_outcomes_total", decision="discard") == 1
    assert value(found, "comfycord_review_outcomes_total", decision="reject") is None
