"""Audit entries for moderation, with one set of action names so the log reads the same everywhere.

Entries never hold a prompt: filter entries name the parameter and the matched term, which is what a
moderator needs, and nothing a member did not choose to share with the moderators anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from bot.moderation.filters import FilterVerdict
from bot.moderation.policy import Decision, RequestContext
from bot.moderation.store import SettingChange
from bot.storage import AuditRepository, Ban


class AuditAction(StrEnum):
    """The ``action`` column of moderation audit entries."""

    FILTER_BLOCK = "moderation.filter_block"
    REVIEW_HOLD = "moderation.review_hold"
    REVIEW_APPROVE = "moderation.review_approve"
    REVIEW_REJECT = "moderation.review_reject"
    REVIEW_BAN = "moderation.review_ban"
    BAN = "moderation.ban"
    UNBAN = "moderation.unban"
    CANCEL = "moderation.cancel"
    PURGE = "moderation.purge"
    SETTING_CHANGE = "moderation.setting_change"
    OUTPUT_SCREENED = "moderation.output_screened"
    OUTPUT_RELEASE = "moderation.output_release"
    OUTPUT_DISCARD = "moderation.output_discard"


class ReviewOutcome(StrEnum):
    """What a moderator did with a job waiting for review."""

    APPROVE = "approve"
    REJECT = "reject"
    BAN = "ban"


_REVIEW_ACTIONS = {
    ReviewOutcome.APPROVE: AuditAction.REVIEW_APPROVE,
    ReviewOutcome.REJECT: AuditAction.REVIEW_REJECT,
    ReviewOutcome.BAN: AuditAction.REVIEW_BAN,
}


async def record_filter_block(audit: AuditRepository, ctx: RequestContext, verdict: FilterVerdict) -> int:
    """A prompt was refused by a filter (the member is both actor and target)."""
    return await audit.record(
        AuditAction.FILTER_BLOCK,
        guild_id=ctx.guild_id,
        actor_id=ctx.user_id,
        target_id=ctx.user_id,
        details={
            "template": ctx.template,
            "channel_id": ctx.channel_id,
            "param": verdict.param,
            "term": verdict.matched_term_for_moderators,
        },
    )


async def record_review_hold(
    audit: AuditRepository, ctx: RequestContext, decision: Decision, job_id: str
) -> int:
    """A job was created waiting for review, and why."""
    return await audit.record(
        AuditAction.REVIEW_HOLD,
        guild_id=ctx.guild_id,
        actor_id=ctx.user_id,
        target_id=ctx.user_id,
        job_id=job_id,
        details={
            "rule": decision.rule.value if decision.rule else None,
            "param": decision.verdict.param,
            "term": decision.verdict.matched_term_for_moderators,
        },
    )


async def record_review(
    audit: AuditRepository,
    outcome: ReviewOutcome,
    *,
    guild_id: int | None,
    moderator_id: int,
    member_id: int,
    job_id: str,
    reason: str = "",
) -> int:
    """A moderator approved or rejected a job under review (``BAN`` rejects and bans)."""
    return await audit.record(
        _REVIEW_ACTIONS[outcome],
        guild_id=guild_id,
        actor_id=moderator_id,
        target_id=member_id,
        job_id=job_id,
        details={"reason": reason} if reason else None,
    )


async def record_ban(audit: AuditRepository, ban: Ban, *, job_id: str | None = None) -> int:
    """A member was banned (``ban.guild_id`` None: everywhere)."""
    return await audit.record(
        AuditAction.BAN,
        guild_id=ban.guild_id,
        actor_id=ban.moderator_id,
        target_id=ban.user_id,
        job_id=job_id,
        details={"until": ban.until, "reason": ban.reason, "everywhere": ban.guild_id is None},
    )


async def record_unban(
    audit: AuditRepository, *, guild_id: int | None, moderator_id: int | None, user_id: int
) -> int:
    """A ban was lifted."""
    return await audit.record(AuditAction.UNBAN, guild_id=guild_id, actor_id=moderator_id, target_id=user_id)


async def record_cancel(
    audit: AuditRepository,
    *,
    guild_id: int | None,
    actor_id: int,
    owner_id: int,
    job_id: str,
    reason: str = "",
) -> int:
    """A job was cancelled, by its owner or by a moderator."""
    return await audit.record(
        AuditAction.CANCEL,
        guild_id=guild_id,
        actor_id=actor_id,
        target_id=owner_id,
        job_id=job_id,
        details={"by_owner": actor_id == owner_id, **({"reason": reason} if reason else {})},
    )


async def record_purge(
    audit: AuditRepository,
    *,
    guild_id: int | None,
    moderator_id: int,
    job_ids: Sequence[str],
    user_id: int | None = None,
) -> int:
    """A moderator cancelled many waiting jobs at once (all of one member's, or everyone's)."""
    return await audit.record(
        AuditAction.PURGE,
        guild_id=guild_id,
        actor_id=moderator_id,
        target_id=user_id,
        details={"count": len(job_ids), "job_ids": list(job_ids)},
    )


async def record_setting_change(
    audit: AuditRepository, change: SettingChange, *, guild_id: int, moderator_id: int
) -> int:
    """A moderator changed (or reset) a setting."""
    return await audit.record(
        AuditAction.SETTING_CHANGE,
        guild_id=guild_id,
        actor_id=moderator_id,
        details={"key": change.key, "old": change.old_text, "new": change.new_text},
    )


async def record_output_screened(
    audit: AuditRepository,
    *,
    guild_id: int | None,
    user_id: int,
    job_id: str,
    action: str,
    score: float,
    labels: Sequence[str],
) -> int:
    """The output screener flagged a job's images and something was done about it."""
    return await audit.record(
        AuditAction.OUTPUT_SCREENED,
        guild_id=guild_id,
        target_id=user_id,
        job_id=job_id,
        details={"action": action, "score": round(score, 3), "labels": list(labels)},
    )


async def record_output_review(
    audit: AuditRepository,
    *,
    released: bool,
    guild_id: int | None,
    moderator_id: int,
    member_id: int,
    job_id: str,
) -> int:
    """A moderator released (or discarded) images the screener held for review."""
    return await audit.record(
        AuditAction.OUTPUT_RELEASE if released else AuditAction.OUTPUT_DISCARD,
        guild_id=guild_id,
        actor_id=moderator_id,
        target_id=member_id,
        job_id=job_id,
    )


async def screening_verdict(audit: AuditRepository, job_id: str) -> str | None:
    """What output screening decided for a job that still stands: "spoiler", "review" or "block"
    (a moderator's Release lifts the last two), or None when its results were never flagged."""
    verdict: str | None = None
    for entry in sorted(await audit.for_job(job_id), key=lambda e: (e.at, e.id)):
        if entry.action == AuditAction.OUTPUT_SCREENED:
            verdict = str(entry.details.get("action"))
        elif entry.action == AuditAction.OUTPUT_RELEASE:
            verdict = None
    return verdict
