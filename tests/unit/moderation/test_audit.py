"""Audit helpers: consistent action names and details."""

from __future__ import annotations

import pytest

from bot.moderation.audit import (
    AuditAction,
    ReviewOutcome,
    record_ban,
    record_cancel,
    record_output_screened,
    record_purge,
    record_review,
    record_review_hold,
    record_unban,
)
from bot.moderation.policy import RequestContext, decide
from bot.moderation.settings import GuildPolicy, ReviewMode
from bot.storage import AuditRepository, BanRepository, Database

GUILD, USER, MOD = 1, 100, 200


@pytest.fixture
def audit(db: Database) -> AuditRepository:
    return AuditRepository(db)


def test_action_names_share_a_prefix_and_are_unique() -> None:
    values = [a.value for a in AuditAction]
    assert len(set(values)) == len(values)
    assert all(v.startswith("moderation.") for v in values)


async def test_review_outcomes(audit: AuditRepository) -> None:
    for outcome in ReviewOutcome:
        await record_review(audit, outcome, guild_id=GUILD, moderator_id=MOD, member_id=USER, job_id="j1")
    await record_review(
        audit,
        ReviewOutcome.REJECT,
        guild_id=GUILD,
        moderator_id=MOD,
        member_id=USER,
        job_id="j2",
        reason="no",
    )
    entries = await audit.for_job("j1")
    assert [e.action for e in entries] == [
        AuditAction.REVIEW_APPROVE,
        AuditAction.REVIEW_REJECT,
        AuditAction.REVIEW_BAN,
    ]
    assert all((e.actor_id, e.target_id, e.details) == (MOD, USER, {}) for e in entries)
    assert (await audit.for_job("j2"))[0].details == {"reason": "no"}


async def test_review_hold(audit: AuditRepository) -> None:
    policy = GuildPolicy(review_mode=ReviewMode.FLAGGED, review_terms=("swimsuit",))
    ctx = RequestContext(GUILD, 10, USER, "imagine", texts={"prompt": "swimsuit"})
    decision = decide(ctx, policy, 0.0)
    await record_review_hold(audit, ctx, decision, "j1")
    [entry] = await audit.for_job("j1")
    assert entry.action == AuditAction.REVIEW_HOLD
    assert entry.details == {"rule": "review_flagged", "param": "prompt", "term": "swimsuit (review_terms)"}


async def test_bans_cancels_purges_and_screening(audit: AuditRepository, db: Database) -> None:
    ban = await BanRepository(db).ban(None, USER, reason="abuse", moderator_id=MOD)
    await record_ban(audit, ban)
    await record_unban(audit, guild_id=None, moderator_id=MOD, user_id=USER)
    await record_cancel(audit, guild_id=GUILD, actor_id=USER, owner_id=USER, job_id="j1")
    await record_cancel(audit, guild_id=GUILD, actor_id=MOD, owner_id=USER, job_id="j2", reason="off topic")
    await record_purge(audit, guild_id=GUILD, moderator_id=MOD, job_ids=["j3", "j4"], user_id=USER)
    await record_output_screened(
        audit,
        guild_id=GUILD,
        user_id=USER,
        job_id="j5",
        action="block",
        score=0.91234,
        labels=["ANUS_EXPOSED"],
    )
    entries = {e.action: e for e in await audit.recent(limit=10)}
    assert entries[AuditAction.BAN].details == {"until": None, "reason": "abuse", "everywhere": True}
    assert entries[AuditAction.UNBAN].target_id == USER
    assert entries[AuditAction.PURGE].details == {"count": 2, "job_ids": ["j3", "j4"]}
    assert entries[AuditAction.OUTPUT_SCREENED].details == {
        "action": "block",
        "score": 0.912,
        "labels": ["ANUS_EXPOSED"],
    }
    cancels = await audit.recent(action=AuditAction.CANCEL)
    assert [c.details for c in cancels] == [{"by_owner": False, "reason": "off topic"}, {"by_owner": True}]
