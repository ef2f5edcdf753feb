"""What the review lane's messages say (pure: jobs and decisions in, embeds and lines out)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

import discord

from bot.jobmodel.model import Job
from bot.moderation import AuditAction, ReviewOutcome, Rule
from bot.storage import AuditEntry

DECISIONS: Final = {
    AuditAction.REVIEW_APPROVE: ReviewOutcome.APPROVE,
    AuditAction.REVIEW_REJECT: ReviewOutcome.REJECT,
    AuditAction.REVIEW_BAN: ReviewOutcome.BAN,
}
"""Audit actions that decide a request under review, and the outcome each stands for."""
WAITING: Final = discord.Colour.orange()
DECISION_COLOURS: Final = {
    "✅": discord.Colour.green(),
    "❌": discord.Colour.red(),
    "🔨": discord.Colour.dark_red(),
}
"""The review message's colour by the first character of its decision line (others: grey)."""
HOLD_REASONS: Final = {
    Rule.REVIEW_NEW_MEMBER.value: "Requests from new members are reviewed (`review_mode` = new_members).",
    Rule.REVIEW_EVERYONE.value: "Every request is reviewed (`review_mode` = everyone).",
}


def clip(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def decision_line(outcome: ReviewOutcome, moderator_id: int | None, reason: str = "") -> str:
    """How a decision reads on the review message; the same words whoever renders it."""
    by = f"<@{moderator_id}>" if moderator_id else "a moderator"
    why = f": {clip(reason, 300)}" if reason else ""
    if outcome is ReviewOutcome.APPROVE:
        return f"✅ Approved by {by}"
    if outcome is ReviewOutcome.REJECT:
        return f"❌ Rejected by {by}{why}"
    return f"🔨 Rejected by {by}, who also banned the member{why}"


def entry_line(entry: AuditEntry) -> str:
    """A review decision from the audit log, as its decision line."""
    outcome = DECISIONS[AuditAction(entry.action)]
    return decision_line(outcome, entry.actor_id, str(entry.details.get("reason", "")))


def output_decision_line(*, released: bool, moderator_id: int | None) -> str:
    """How a moderator's decision on held results reads."""
    by = f"<@{moderator_id}>" if moderator_id else "a moderator"
    return f"✅ Released by {by}" if released else f"🗑️ Discarded by {by}"


def hold_reason(entries: Sequence[AuditEntry]) -> str:
    """Why a request waits for review, from its audit entries."""
    hold = next((e for e in entries if e.action == AuditAction.REVIEW_HOLD), None)
    if hold is None:
        return "Held for review."
    rule = str(hold.details.get("rule") or "")
    if rule == Rule.REVIEW_FLAGGED.value:
        return f"`{hold.details.get('param')}` matches a review term: {hold.details.get('term')}"
    return HOLD_REASONS.get(rule, "Held for review.")


def footer(embed: discord.Embed, job: Job) -> discord.Embed:
    """The job's id, template and creation time at the bottom of ``embed``."""
    embed.set_footer(text=f"job {job.id} · /{job.template}")
    embed.timestamp = dt.datetime.fromtimestamp(job.created_at, dt.UTC)
    return embed


def review_embed(job: Job, why: str, decision: str | None = None) -> discord.Embed:
    """The review message: who asked for what, why it waits, and (once decided) the decision."""
    colour = DECISION_COLOURS.get(decision[:1], discord.Colour.dark_grey()) if decision else WAITING
    embed = discord.Embed(title=clip(f"Review: /{job.template}", 256), colour=colour)
    prompt = job.params.get("prompt")
    if isinstance(prompt, str) and prompt:
        embed.description = clip(prompt, 2000)
    embed.add_field(name="Requested by", value=f"<@{job.user_id}>")
    embed.add_field(name="In", value=f"<#{job.channel_id}>")
    embed.add_field(name="Why it waits", value=clip(why, 1024), inline=False)
    others = [f"**{k}**: {clip(str(v), 200)}" for k, v in job.params.items() if k != "prompt"]
    if others:
        embed.add_field(name="Parameters", value=clip("\n".join(others), 1024), inline=False)
    if job.inputs:
        embed.add_field(name="Input images", value=f"{len(job.inputs)} (thumbnails attached)", inline=False)
    if decision is not None:
        embed.add_field(name="Decision", value=clip(decision, 1024), inline=False)
    return footer(embed, job)


def hold_embed(job: Job, screened: AuditEntry | None, decision: str | None = None) -> discord.Embed:
    """The message that puts held results before the moderators (and, once decided, the decision);
    ``screened`` is the screener's audit entry (its labels and score)."""
    details = screened.details if screened is not None else {}
    labels = ", ".join(str(label) for label in details.get("labels") or ()) or "nsfw"
    score = details.get("score")
    scored = f", score {score:.2f}" if isinstance(score, int | float) else ""
    embed = discord.Embed(
        title=clip(f"Output check: /{job.template}", 256),
        description=f"The image checker flagged this result ({labels}{scored}). "
        f"Release posts it in <#{job.channel_id}>.",
        colour=DECISION_COLOURS.get(decision[:1], discord.Colour.dark_grey()) if decision else WAITING,
    )
    embed.add_field(name="Requested by", value=f"<@{job.user_id}>")
    embed.add_field(name="In", value=f"<#{job.channel_id}>")
    if decision is not None:
        embed.add_field(name="Decision", value=clip(decision, 1024), inline=False)
    return footer(embed, job)


def notice(job: Job, title: str, text: str, colour: discord.Colour) -> discord.Embed:
    """A short notice on the member's status message, in place of the results."""
    return footer(discord.Embed(title=title, description=text, colour=colour), job)


def held_notice(job: Job) -> discord.Embed:
    """The member's status message while a moderator checks the results."""
    return notice(
        job,
        "Waiting for a moderator to check the result",
        "The image checker flagged this result, so a moderator looks at it before it is posted.",
        discord.Colour.orange(),
    )


def blocked_notice(job: Job) -> discord.Embed:
    """The member's status message when the image checker withheld the results."""
    return notice(
        job,
        "Result withheld",
        "The image checker found this result unsuitable for this channel, so it was not posted. "
        "Age-restricted channels get results unfiltered.",
        discord.Colour.red(),
    )


DISCARD_REASON: Final = "A moderator checked this result and decided not to post it here."
"""What the member reads when a moderator discards held results (the job's failure reason)."""
