"""Moderators' decisions on requests waiting for review: Approve, Reject, Reject and ban.

Every decision asks the one access rule (a moderator of the job's own server), from the button and
again from the form. The engine's approve/reject and the audit entry commit in one transaction: when
two moderators decide at once exactly one decision wins, and the other is told who made it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import discord

from bot.discord_ui.access import AccessDenied, JobAccess
from bot.discord_ui.moderation import BAN_CANCEL_REASON, NO_PINGS, ModLog, cancel_open_jobs
from bot.discord_ui.presenter import answers_errors
from bot.discord_ui.review.buttons import acknowledge, decision_form
from bot.discord_ui.review.lane import ReviewLane
from bot.discord_ui.review.render import decision_line, review_embed
from bot.errors import JobNotFound
from bot.jobmodel.model import Job
from bot.jobmodel.states import IllegalTransition, JobState
from bot.jobs.engine import JobEngine
from bot.moderation import ModerationService, ReviewOutcome, parse_duration, record_review
from bot.moderation.access import Action

log = logging.getLogger(__name__)

TOLD: dict[ReviewOutcome, str] = {
    ReviewOutcome.APPROVE: "Approved: the job is queued.",
    ReviewOutcome.REJECT: "Rejected; the member sees it on their status message.",
}


class ReviewDecisions:
    """Applies moderators' decisions on requests under review."""

    def __init__(
        self,
        engine: JobEngine,
        moderation: ModerationService,
        lane: ReviewLane,
        mod_log: ModLog,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._moderation = moderation
        self._lane = lane
        self._mod_log = mod_log
        self._clock = clock
        self._access = JobAccess(moderation)

    async def _job(self, job_id: str) -> Job:
        job = await self._engine.jobs.get(job_id)
        if job is None:
            raise JobNotFound("This request no longer exists.")
        return job

    @answers_errors
    async def approve(self, interaction: discord.Interaction[Any], job_id: str) -> None:
        job = await self._job(job_id)
        await self._access.require(interaction, job, Action.MODERATE)
        await acknowledge(interaction)
        await self._decide(interaction, job, ReviewOutcome.APPROVE)

    @answers_errors
    async def open_form(self, interaction: discord.Interaction[Any], job_id: str, *, ban: bool) -> None:
        """Reject and Ban ask for a reason (and a ban's length) first."""
        job = await self._job(job_id)
        await self._access.require(interaction, job, Action.MODERATE)
        if job.state is not JobState.PENDING_REVIEW:
            await acknowledge(interaction)
            await self._already(interaction, job.id)
            return
        await interaction.response.send_modal(decision_form(job.id, interaction.user.id, ban=ban))

    @answers_errors
    async def form_submitted(
        self,
        interaction: discord.Interaction[Any],
        job_id: str,
        *,
        ban: bool,
        opened_by: int,
        reason: str,
        duration: str,
    ) -> None:
        """The Reject / Reject-and-ban form came back; the access rule is asked again here."""
        if opened_by != interaction.user.id:
            raise AccessDenied("This form was opened by another moderator; open your own from the buttons.")
        job = await self._job(job_id)
        await self._access.require(interaction, job, Action.MODERATE)
        await acknowledge(interaction)
        seconds = parse_duration(duration) if ban else None  # a typo must change nothing
        outcome = ReviewOutcome.BAN if ban else ReviewOutcome.REJECT
        await self._decide(interaction, job, outcome, reason=reason.strip(), ban_seconds=seconds)

    async def _decide(
        self,
        interaction: discord.Interaction[Any],
        job: Job,
        outcome: ReviewOutcome,
        *,
        reason: str = "",
        ban_seconds: float | None = None,
    ) -> None:
        moderator = interaction.user.id
        ref = self._lane.claim(job.id)  # taken first, so the update watcher leaves this message to us
        try:
            # The state change and its audit entry commit together: whoever loses the race finds the
            # winner's entry.
            async with self._engine.db.transaction():
                if outcome is ReviewOutcome.APPROVE:
                    decided = await self._engine.approve(job.id)
                else:
                    decided = await self._engine.reject(job.id, reason)
                await record_review(
                    self._moderation.audit,
                    outcome,
                    guild_id=job.guild_id,
                    moderator_id=moderator,
                    member_id=job.user_id,
                    job_id=job.id,
                    reason=reason,
                )
        except IllegalTransition:
            await self._already(interaction, job.id)
            return
        except BaseException:
            self._lane.unclaim(job.id, ref)
            raise
        log.info("job=%s review %s by user=%s", job.id, outcome.value, moderator)
        line = decision_line(outcome, moderator, reason)
        await self._show(interaction, decided, line)
        told = TOLD.get(outcome, "")
        if outcome is ReviewOutcome.BAN and job.guild_id is not None:
            until = None if ban_seconds is None else self._clock() + ban_seconds
            await self._moderation.ban(
                job.guild_id, job.user_id, moderator_id=moderator, reason=reason, until=until, job_id=job.id
            )
            cancelled = await cancel_open_jobs(
                self._engine,
                self._moderation,
                job.guild_id,
                job.user_id,
                moderator_id=moderator,
                reason=BAN_CANCEL_REASON,
            )
            length = "until lifted" if until is None else f"until <t:{int(until)}:f>"
            told = (
                f"Rejected, and <@{job.user_id}> is banned {length}; {len(cancelled)} other job(s) cancelled."
            )
        await self._mod_log.post(
            job.guild_id, f"{line} — job `{job.id}` (/{job.template}) of <@{job.user_id}>"
        )
        await interaction.followup.send(told, ephemeral=True, allowed_mentions=NO_PINGS)

    async def _already(self, interaction: discord.Interaction[Any], job_id: str) -> None:
        """Someone decided first (or the member cancelled): say who or what, and fix a stale message."""
        job = await self._engine.jobs.get(job_id)
        if job is None:
            await interaction.followup.send("This request no longer exists.", ephemeral=True)
            return
        if job.state is JobState.PENDING_REVIEW:
            text = "This request is still waiting for review; try again."
        else:
            line = await self._lane.outcome_line(job)
            text = f"Already decided — {line}."
            if interaction.message is not None and interaction.message.components:
                self._lane.claim(job.id)
                await self._show(interaction, job, line)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)

    async def _show(self, interaction: discord.Interaction[Any], job: Job, line: str) -> None:
        """Put the decision on the message the moderator clicked, and remove its buttons."""
        embed = review_embed(job, await self._lane.why(job), line)
        try:
            await interaction.edit_original_response(embed=embed, view=None)
        except discord.HTTPException as exc:
            log.info("job=%s review message not edited through the interaction: %s", job.id, exc)
            ref = await self._lane.message_of(job.id)
            if ref is not None:
                await self._lane.edit(ref, job, line)
