"""The review lane, and output images held back by the screener.

Requests the policy holds (PENDING_REVIEW) are posted in the guild's review channel with the
requester, template, parameters and small thumbnails of the input images, under Approve / Reject /
Ban buttons. The buttons are DynamicItems carrying the job id, so they work after a restart. The
engine's approve/reject are atomic and run in one transaction with their audit entry: when two
moderators click at once exactly one decision wins, and the other is told who made it.

With output screening on, results bound for channels that are not age-restricted are classified
before delivery, and the guild's ``nsfw_output_action`` spoilers them, blocks them, or holds them for
a moderator (Release / Discard in the review channel).

The desk also watches the engine's updates: when a job leaves review some other way (the member
cancels, a moderator purges), its review message says so; and the GPU time of every finished run is
charged to the member's daily quota.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, cast

import discord
from discord import ui
from PIL import Image

from bot.discord_ui.moderation import (
    BAN_CANCEL_REASON,
    NO_PINGS,
    ModLog,
    cancel_open_jobs,
    moderator_policy,
)
from bot.discord_ui.presenter import describe, reply
from bot.errors import BotError, JobNotFound
from bot.jobs.engine import JobEngine
from bot.jobs.model import Job, MessageRef, OutputRef
from bot.jobs.states import IllegalTransition, JobState
from bot.jobs.updates import JobUpdate, Mailbox
from bot.moderation import (
    AuditAction,
    Decision,
    ModerationService,
    OutputAction,
    RequestContext,
    ReviewOutcome,
    Rule,
    Screener,
    ScreeningResult,
    output_action,
    parse_duration,
    record_output_review,
    record_output_screened,
    record_review,
    record_review_hold,
)
from bot.storage import AuditEntry
from bot.supervisor import Supervisor

if TYPE_CHECKING:
    from bot.discord_ui.controller import Controller

log = logging.getLogger(__name__)

JOB = r"(?P<job>[0-9A-Z]{8})"
REVIEW_KIND: Final = "review"
"""Deliveries row: where a job's review message is (so it is posted once, and found after a restart)."""
HOLD_KIND: Final = "output_hold"
"""Deliveries row: where images held by the screener were posted for moderators."""
HOLD_DECISION_KIND: Final = "output_decision"
"""Deliveries row written by the first moderator to release or discard held images (an atomic claim)."""
THUMBNAIL_SIDE: Final = 256
MAX_THUMBNAILS: Final = 4
HOLD_BYTES: Final = 20 * 1024 * 1024
DECISIONS: Final = {
    AuditAction.REVIEW_APPROVE: ReviewOutcome.APPROVE,
    AuditAction.REVIEW_REJECT: ReviewOutcome.REJECT,
    AuditAction.REVIEW_BAN: ReviewOutcome.BAN,
}
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

Deliver = Callable[[Job, Sequence[OutputRef]], Awaitable[object]]


class ReviewUnavailable(BotError):
    """A request needs review, but the guild has nowhere to review it."""


@dataclass(frozen=True, slots=True)
class Screened:
    """What the publisher posts: ``files`` (maybe renamed to spoilers), or ``notice`` instead of them."""

    files: list[tuple[str, bytes]]
    notice: discord.Embed | None = field(default=None)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def decision_line(outcome: ReviewOutcome, moderator_id: int | None, reason: str = "") -> str:
    """How a decision reads on the review message; the same words whoever renders it."""
    by = f"<@{moderator_id}>" if moderator_id else "a moderator"
    why = f": {_clip(reason, 300)}" if reason else ""
    if outcome is ReviewOutcome.APPROVE:
        return f"✅ Approved by {by}"
    if outcome is ReviewOutcome.REJECT:
        return f"❌ Rejected by {by}{why}"
    return f"🔨 Rejected by {by}, who also banned the member{why}"


def _entry_line(entry: AuditEntry) -> str:
    outcome = DECISIONS[AuditAction(entry.action)]
    return decision_line(outcome, entry.actor_id, str(entry.details.get("reason", "")))


def _footer(embed: discord.Embed, job: Job) -> discord.Embed:
    embed.set_footer(text=f"job {job.id} · /{job.template}")
    embed.timestamp = dt.datetime.fromtimestamp(job.created_at, dt.UTC)
    return embed


def review_embed(job: Job, why: str, decision: str | None = None) -> discord.Embed:
    """The review message: who asked for what, why it waits, and (once decided) the decision."""
    colour = DECISION_COLOURS.get(decision[:1], discord.Colour.dark_grey()) if decision else WAITING
    embed = discord.Embed(title=_clip(f"Review: /{job.template}", 256), colour=colour)
    prompt = job.params.get("prompt")
    if isinstance(prompt, str) and prompt:
        embed.description = _clip(prompt, 2000)
    embed.add_field(name="Requested by", value=f"<@{job.user_id}>")
    embed.add_field(name="In", value=f"<#{job.channel_id}>")
    embed.add_field(name="Why it waits", value=_clip(why, 1024), inline=False)
    others = [f"**{k}**: {_clip(str(v), 200)}" for k, v in job.params.items() if k != "prompt"]
    if others:
        embed.add_field(name="Parameters", value=_clip("\n".join(others), 1024), inline=False)
    if job.inputs:
        embed.add_field(name="Input images", value=f"{len(job.inputs)} (thumbnails attached)", inline=False)
    if decision is not None:
        embed.add_field(name="Decision", value=_clip(decision, 1024), inline=False)
    return _footer(embed, job)


def _notice(job: Job, title: str, text: str, colour: discord.Colour) -> discord.Embed:
    embed = discord.Embed(title=title, description=text, colour=colour)
    return _footer(embed, job)


def held_notice(job: Job) -> discord.Embed:
    return _notice(
        job,
        "Waiting for a moderator to check the result",
        "The image checker flagged this result, so a moderator looks at it before it is posted.",
        discord.Colour.orange(),
    )


def blocked_notice(job: Job) -> discord.Embed:
    return _notice(
        job,
        "Result withheld",
        "The image checker found this result unsuitable for this channel, so it was not posted. "
        "Age-restricted channels get results unfiltered.",
        discord.Colour.red(),
    )


def discarded_notice(job: Job) -> discord.Embed:
    return _notice(
        job,
        "Result withheld",
        "A moderator checked this result and decided not to post it here.",
        discord.Colour.red(),
    )


def _thumbnail(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        out = io.BytesIO()
        image.convert("RGBA" if "A" in image.getbands() else "RGB").save(out, format="PNG", optimize=True)
        return out.getvalue()


def _spoiler(name: str) -> str:
    return name if name.startswith("SPOILER_") else f"SPOILER_{name}"


def _files(files: Sequence[tuple[str, bytes]]) -> list[discord.File]:
    return [discord.File(io.BytesIO(data), filename=name) for name, data in files]


class ReviewDesk:
    """Posts held requests for review, applies moderators' decisions, screens and holds outputs."""

    def __init__(
        self,
        client: discord.Client,
        engine: JobEngine,
        moderation: ModerationService,
        *,
        screener: Screener | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._engine = engine
        self._moderation = moderation
        self._screener = screener
        self._clock = clock
        self.mod_log = ModLog(client, moderation)
        self.deliver_again: Deliver | None = None
        """Posts a job's results (the publisher's ``deliver``); releasing held images calls it."""
        self._open: dict[str, MessageRef] = {}
        self._posting: set[str] = set()
        self._released: set[str] = set()
        self._box: Mailbox | None = None

    # --- lifecycle ------------------------------------------------------------------------------------

    def start(self, supervisor: Supervisor) -> None:
        """Watch the engine's updates, and once connected post what waits without a review message."""
        box = self._box = self._engine.updates.subscribe()
        supervisor.loop("review-watch", lambda: self._watch(box))
        supervisor.spawn(self._recover(), name="review-recover")

    async def close(self) -> None:
        if self._box is not None:
            self._engine.updates.unsubscribe(self._box)
            self._box = None

    # --- holding a request ----------------------------------------------------------------------------

    async def require_lane(self, guild_id: int) -> None:
        """Refuse a request that needs review when the guild has no (reachable) review channel.

        Holding it anyway would leave it waiting where no moderator looks, so the member is told now.
        """
        channel_id = (await self._moderation.policy(guild_id)).review_channel
        if channel_id is None:
            raise ReviewUnavailable(
                "This request needs a moderator's review, but this server has no review channel yet, "
                "so it can't be taken. Moderators: set one with `/mod settings set review_channel`."
            )
        if self._client.get_channel(channel_id) is None:
            raise ReviewUnavailable(
                "This request needs a moderator's review, but I can't reach the review channel, so it "
                "can't be taken. Moderators: check `review_channel` in `/mod settings show`."
            )

    async def hold(self, job: Job, ctx: RequestContext, decision: Decision) -> None:
        """A job was created waiting for review: record why and post it for the moderators."""
        try:
            await record_review_hold(self._moderation.audit, ctx, decision, job.id)
            await self.post(job)
        except Exception:
            # The job is stored and waits; posting is retried when the bot next starts.
            log.exception("job=%s could not be put up for review", job.id)

    async def post(self, job: Job) -> MessageRef | None:
        """Post the job in its guild's review channel, once; None if it could not be posted."""
        if job.id in self._posting or job.guild_id is None:
            return None
        self._posting.add(job.id)
        try:
            posted = await self._engine.deliveries.get(job.id, REVIEW_KIND)
            if posted is not None and posted.channel_id and posted.message_ids:
                return MessageRef(posted.channel_id, posted.message_ids[0])
            channel_id = (await self._moderation.policy(job.guild_id)).review_channel
            if channel_id is None:
                log.warning(
                    "job=%s waits for review but guild=%s has no review channel", job.id, job.guild_id
                )
                return None
            message = await self._client.get_partial_messageable(channel_id).send(
                embed=review_embed(job, await self._hold_reason(job)),
                files=_files(await self._thumbnails(job)),
                view=review_view(job.id),
                allowed_mentions=NO_PINGS,
            )
            ref = MessageRef(channel_id, message.id)
            await self._engine.deliveries.record_delivery(
                job.id, REVIEW_KIND, channel_id=channel_id, message_ids=[message.id]
            )
            log.info("job=%s posted for review in channel=%s", job.id, channel_id)
        except discord.HTTPException as exc:
            log.warning("job=%s could not be posted for review: %s", job.id, exc)
            return None
        finally:
            self._posting.discard(job.id)
        current = await self._engine.jobs.get(job.id)
        if current is not None and current.state is JobState.PENDING_REVIEW:
            self._open[job.id] = ref
        elif current is not None:  # decided while we were posting
            await self._edit(ref, current, await self._outcome_line(current))
        return ref

    async def _hold_reason(self, job: Job) -> str:
        entries = await self._moderation.audit.for_job(job.id)
        hold = next((e for e in entries if e.action == AuditAction.REVIEW_HOLD), None)
        if hold is None:
            return "Held for review."
        rule = str(hold.details.get("rule") or "")
        if rule == Rule.REVIEW_FLAGGED.value:
            return f"`{hold.details.get('param')}` matches a review term: {hold.details.get('term')}"
        return HOLD_REASONS.get(rule, "Held for review.")

    async def _thumbnails(self, job: Job) -> list[tuple[str, bytes]]:
        thumbs = []
        for ref in job.inputs[:MAX_THUMBNAILS]:
            try:
                data = await self._engine.spool.read(ref.path)
                thumbs.append((_spoiler(f"{ref.param}.png"), await asyncio.to_thread(_thumbnail, data)))
            except (OSError, ValueError) as exc:
                log.warning("job=%s no thumbnail for %s: %s", job.id, ref.param, exc)
        return thumbs

    # --- moderators' decisions --------------------------------------------------------------------------

    async def approve(self, interaction: discord.Interaction[Any], job_id: str) -> None:
        await interaction.response.defer()
        try:
            await moderator_policy(self._moderation, interaction)
            await self._decide(interaction, job_id, ReviewOutcome.APPROVE)
        except Exception as exc:
            await reply(interaction, describe(exc))

    async def open_form(self, interaction: discord.Interaction[Any], job_id: str, *, ban: bool) -> None:
        """Reject and Ban ask for a reason (and a ban's length) first."""
        try:
            await moderator_policy(self._moderation, interaction)
            job = await self._engine.jobs.get(job_id)
            if job is None or job.state is not JobState.PENDING_REVIEW:
                await interaction.response.defer()
                await self._already(interaction, job_id)
                return
            await interaction.response.send_modal(DecisionModal(job.id, interaction.user.id, ban=ban))
        except Exception as exc:
            await reply(interaction, describe(exc))

    async def form_submitted(
        self, interaction: discord.Interaction[Any], job_id: str, *, ban: bool, reason: str, duration: str
    ) -> None:
        await interaction.response.defer()
        try:
            await moderator_policy(self._moderation, interaction)
            seconds = parse_duration(duration) if ban else None  # a typo must change nothing
            outcome = ReviewOutcome.BAN if ban else ReviewOutcome.REJECT
            await self._decide(interaction, job_id, outcome, reason=reason.strip(), ban_seconds=seconds)
        except Exception as exc:
            await reply(interaction, describe(exc))

    async def _decide(
        self,
        interaction: discord.Interaction[Any],
        job_id: str,
        outcome: ReviewOutcome,
        *,
        reason: str = "",
        ban_seconds: float | None = None,
    ) -> None:
        job = await self._engine.jobs.get(job_id)
        if job is None or job.guild_id != interaction.guild_id:
            raise JobNotFound("This request no longer exists.")
        moderator = interaction.user.id
        # Taken first, so the update watcher leaves this message to us.
        ref = self._open.pop(job.id, None)
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
            if ref is not None:
                self._open.setdefault(job.id, ref)
            raise
        log.info("job=%s review %s by user=%s", job.id, outcome.value, moderator)
        line = decision_line(outcome, moderator, reason)
        await self._show(interaction, decided, line)
        told = {
            ReviewOutcome.APPROVE: "Approved: the job is queued.",
            ReviewOutcome.REJECT: "Rejected; the member sees it on their status message.",
        }.get(outcome, "")
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
        await self.mod_log.post(
            job.guild_id, f"{line} — job `{job.id}` (/{job.template}) of <@{job.user_id}>"
        )
        await interaction.followup.send(told, ephemeral=True, allowed_mentions=NO_PINGS)

    async def _already(self, interaction: discord.Interaction[Any], job_id: str) -> None:
        """Someone decided first (or the member cancelled): say who or what, and fix a stale message."""
        job = await self._engine.jobs.get(job_id)
        if job is None:
            await interaction.followup.send("This request no longer exists.", ephemeral=True)
            return
        line = await self._outcome_line(job)
        if job.state is JobState.PENDING_REVIEW:
            text = "This request is still waiting for review; try again."
        else:
            text = f"Already decided — {line}."
            stale = interaction.message is not None and bool(interaction.message.components)
            if stale:
                self._open.pop(job.id, None)
                await self._show(interaction, job, line)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)

    async def _review_entry(self, job_id: str) -> AuditEntry | None:
        entries = await self._moderation.audit.for_job(job_id)
        return next((e for e in reversed(entries) if e.action in DECISIONS), None)

    async def _outcome_line(self, job: Job) -> str:
        """The review message's last word on a job that no longer waits."""
        entry = await self._review_entry(job.id)
        if entry is not None:
            return _entry_line(entry)
        if job.state is JobState.CANCELLED:
            return f"🚫 {job.failure_reason or 'Cancelled.'}".rstrip(".")
        return f"No longer waiting for review ({job.state.value.replace('_', ' ')})"

    async def _show(self, interaction: discord.Interaction[Any], job: Job, line: str) -> None:
        """Put the decision on the message the moderator clicked, and remove its buttons."""
        embed = review_embed(job, await self._hold_reason(job), line)
        try:
            await interaction.edit_original_response(embed=embed, view=None)
        except discord.HTTPException as exc:
            log.info("job=%s review message not edited through the interaction: %s", job.id, exc)
            posted = await self._engine.deliveries.get(job.id, REVIEW_KIND)
            if posted is not None and posted.channel_id and posted.message_ids:
                await self._edit(MessageRef(posted.channel_id, posted.message_ids[0]), job, line)

    async def _edit(self, ref: MessageRef, job: Job, line: str) -> None:
        if ref.message_id is None:
            return
        embed = review_embed(job, await self._hold_reason(job), line)
        try:
            message = self._client.get_partial_messageable(ref.channel_id).get_partial_message(ref.message_id)
            await message.edit(embed=embed, view=None)
        except discord.HTTPException as exc:
            log.warning("job=%s review message not updated: %s", job.id, exc)

    # --- watching the engine ------------------------------------------------------------------------------

    async def _watch(self, box: Mailbox) -> None:
        while True:
            for update in await box.get():
                try:
                    await self._on_update(update)
                except Exception:
                    log.exception("job=%s review desk could not handle an update", update.job.id)

    async def _on_update(self, update: JobUpdate) -> None:
        job = update.job
        if job.state is not JobState.PENDING_REVIEW:
            ref = self._open.pop(job.id, None)
            if ref is not None:
                await self._edit(ref, job, await self._outcome_line(job))

    async def _recover(self) -> None:
        # wait_until_ready() refuses to run before login, which happens after this task starts.
        while not self._client.is_ready():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        for job in await self._engine.jobs.list_by_state(JobState.PENDING_REVIEW):
            posted = await self._engine.deliveries.get(job.id, REVIEW_KIND)
            if posted is None:
                await self.post(job)
            elif posted.channel_id and posted.message_ids:
                self._open.setdefault(job.id, MessageRef(posted.channel_id, posted.message_ids[0]))

    # --- output screening ----------------------------------------------------------------------------

    async def screen(self, job: Job, files: list[tuple[str, bytes]]) -> Screened:
        """Classify results bound for a channel that is not age-restricted, and apply the guild's action."""
        if self._screener is None or not files or job.id in self._released or self._channel_nsfw(job):
            return Screened(files)
        results: list[ScreeningResult | None] = []
        for _, data in files:
            try:
                results.append(await asyncio.to_thread(self._screener.classify, data))
            except Exception:
                # The core's contract: an image that could not be classified counts as not screened.
                log.exception("job=%s output screening failed", job.id)
                results.append(None)
        policy = await self._moderation.policy(job.guild_id)
        action = output_action(policy, channel_nsfw=False, results=results)
        if action is OutputAction.DELIVER:
            return Screened(files)
        if action is OutputAction.REVIEW and policy.review_channel is None:
            log.warning("job=%s output held for review but there is no review channel: blocked", job.id)
            action = OutputAction.BLOCK
        flagged = [r for r in results if r is not None and r.nsfw]
        await record_output_screened(
            self._moderation.audit,
            guild_id=job.guild_id,
            user_id=job.user_id,
            job_id=job.id,
            action=action.value,
            score=max(r.score for r in flagged),
            labels=sorted({label for r in flagged for label in r.labels}),
        )
        log.info("job=%s output flagged by the screener: %s", job.id, action.value)
        await self.mod_log.post(
            job.guild_id,
            f"🔞 The image checker flagged the result of job `{job.id}` of <@{job.user_id}> "
            f"(score {max(r.score for r in flagged):.2f}): {action.value}.",
        )
        if action is OutputAction.SPOILER:
            return Screened([(_spoiler(name), data) for name, data in files])
        if (
            action is OutputAction.REVIEW
            and policy.review_channel is not None
            and await self._post_hold(job, files, policy.review_channel, flagged)
        ):
            return Screened([], notice=held_notice(job))
        return Screened([], notice=blocked_notice(job))

    def _channel_nsfw(self, job: Job) -> bool:
        channel = self._client.get_channel(job.channel_id)
        is_nsfw = getattr(channel, "is_nsfw", None)
        return bool(callable(is_nsfw) and is_nsfw())

    async def _post_hold(
        self, job: Job, files: list[tuple[str, bytes]], channel_id: int, flagged: list[ScreeningResult]
    ) -> bool:
        if await self._engine.deliveries.get(job.id, HOLD_KIND) is not None:
            return True  # a repeated delivery after a restart: already waiting
        chosen: list[tuple[str, bytes]] = []
        size = 0
        for name, data in files[:10]:
            if chosen and size + len(data) > HOLD_BYTES:
                break
            chosen.append((_spoiler(name), data))
            size += len(data)
        labels = ", ".join(sorted({label for r in flagged for label in r.labels})) or "nsfw"
        embed = discord.Embed(
            title=_clip(f"Output check: /{job.template}", 256),
            description=f"The image checker flagged this result ({labels}, score "
            f"{max(r.score for r in flagged):.2f}). Release posts it in <#{job.channel_id}>.",
            colour=discord.Colour.orange(),
        )
        embed.add_field(name="Requested by", value=f"<@{job.user_id}>")
        embed.add_field(name="In", value=f"<#{job.channel_id}>")
        try:
            message = await self._client.get_partial_messageable(channel_id).send(
                embed=_footer(embed, job),
                files=_files(chosen),
                view=hold_view(job.id),
                allowed_mentions=NO_PINGS,
            )
        except discord.HTTPException as exc:
            log.warning("job=%s held output could not be posted for review: %s", job.id, exc)
            return False
        await self._engine.deliveries.record_delivery(
            job.id, HOLD_KIND, channel_id=channel_id, message_ids=[message.id]
        )
        return True

    async def decide_output(
        self, interaction: discord.Interaction[Any], job_id: str, *, release: bool
    ) -> None:
        """Release or discard held images; the first moderator to click decides."""
        await interaction.response.defer()
        try:
            await moderator_policy(self._moderation, interaction)
            job = await self._engine.jobs.get(job_id)
            if job is None or job.guild_id != interaction.guild_id:
                raise JobNotFound("This job no longer exists.")
            message_ids = [interaction.message.id] if interaction.message is not None else []
            async with self._engine.db.transaction():
                claimed = await self._engine.deliveries.record_delivery(
                    job.id, HOLD_DECISION_KIND, channel_id=interaction.channel_id, message_ids=message_ids
                )
                if claimed:
                    await record_output_review(
                        self._moderation.audit,
                        released=release,
                        guild_id=job.guild_id,
                        moderator_id=interaction.user.id,
                        member_id=job.user_id,
                        job_id=job.id,
                    )
            entries = await self._moderation.audit.for_job(job.id)
            decided = [
                e for e in entries if e.action in (AuditAction.OUTPUT_RELEASE, AuditAction.OUTPUT_DISCARD)
            ]
            entry = decided[-1] if decided else None
            word = "Released" if entry is None or entry.action == AuditAction.OUTPUT_RELEASE else "Discarded"
            line = f"{'✅' if word == 'Released' else '🗑️'} {word} by <@{entry.actor_id if entry else 0}>"
            if claimed:
                await (self._release(job) if release else self._discard(job))
            if interaction.message is not None and interaction.message.components:
                embed = interaction.message.embeds[0] if interaction.message.embeds else discord.Embed()
                embed.add_field(name="Decision", value=line, inline=False)
                await interaction.edit_original_response(embed=embed, view=None)
            if not claimed:
                await interaction.followup.send(
                    f"Already decided — {line}.", ephemeral=True, allowed_mentions=NO_PINGS
                )
                return
            await self.mod_log.post(
                job.guild_id, f"{line} — held result of job `{job.id}` of <@{job.user_id}>"
            )
            await interaction.followup.send(f"{word}.", ephemeral=True)
        except Exception as exc:
            await reply(interaction, describe(exc))

    async def _release(self, job: Job) -> None:
        outputs = await self._engine.outputs.list_for_job(job.id)
        if not outputs or not all(o.path.exists() for o in outputs):
            raise BotError("The images of this job are no longer stored, so they can't be released.")
        if self.deliver_again is None:
            raise BotError("Releasing results is not set up on this bot.")
        self._released.add(job.id)
        try:
            await self.deliver_again(job, outputs)
        finally:
            self._released.discard(job.id)

    async def _discard(self, job: Job) -> None:
        ref = job.status_message
        if ref is None or ref.message_id is None:
            return
        try:
            message = self._client.get_partial_messageable(ref.channel_id).get_partial_message(ref.message_id)
            await message.edit(embed=discarded_notice(job), view=None)
        except discord.HTTPException as exc:
            log.warning("job=%s status message not updated after a discard: %s", job.id, exc)


# --- buttons and the form ------------------------------------------------------------------------------


def desk_of(interaction: discord.Interaction[Any]) -> ReviewDesk:
    controller = cast("Controller", getattr(interaction.client, "controller"))  # noqa: B009
    if controller.review is None:
        raise BotError("The review lane is not set up on this bot.")
    return controller.review


class _DeskButton(ui.DynamicItem[ui.Button[Any]], template=r"cc:rv:base:(?P<job>never)"):
    """A moderator button whose custom_id is ``<prefix><job id>``; subclasses set the template."""

    prefix = ""
    label = ""
    style = discord.ButtonStyle.secondary

    def __init__(self, job_id: str) -> None:
        super().__init__(ui.Button(label=self.label, style=self.style, custom_id=f"{self.prefix}{job_id}"))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: ui.Item[Any], match: re.Match[str], /
    ) -> _DeskButton:
        return cls(match["job"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            desk = desk_of(interaction)
        except BotError as exc:
            await reply(interaction, exc.user_message)
            return
        await self.act(desk, interaction)

    async def act(self, desk: ReviewDesk, interaction: discord.Interaction[Any]) -> None:
        raise NotImplementedError


class ApproveButton(_DeskButton, template=rf"cc:rv:approve:{JOB}"):
    prefix, label, style = "cc:rv:approve:", "Approve", discord.ButtonStyle.success

    async def act(self, desk: ReviewDesk, interaction: discord.Interaction[Any]) -> None:
        await desk.approve(interaction, self.job_id)


class RejectButton(_DeskButton, template=rf"cc:rv:reject:{JOB}"):
    prefix, label, style = "cc:rv:reject:", "Reject", discord.ButtonStyle.danger

    async def act(self, desk: ReviewDesk, interaction: discord.Interaction[Any]) -> None:
        await desk.open_form(interaction, self.job_id, ban=False)


class BanButton(_DeskButton, template=rf"cc:rv:ban:{JOB}"):
    prefix, label, style = "cc:rv:ban:", "Reject and ban", discord.ButtonStyle.secondary

    async def act(self, desk: ReviewDesk, interaction: discord.Interaction[Any]) -> None:
        await desk.open_form(interaction, self.job_id, ban=True)


class ReleaseButton(_DeskButton, template=rf"cc:out:release:{JOB}"):
    prefix, label, style = "cc:out:release:", "Release", discord.ButtonStyle.success

    async def act(self, desk: ReviewDesk, interaction: discord.Interaction[Any]) -> None:
        await desk.decide_output(interaction, self.job_id, release=True)


class DiscardButton(_DeskButton, template=rf"cc:out:discard:{JOB}"):
    prefix, label, style = "cc:out:discard:", "Discard", discord.ButtonStyle.danger

    async def act(self, desk: ReviewDesk, interaction: discord.Interaction[Any]) -> None:
        await desk.decide_output(interaction, self.job_id, release=False)


REVIEW_ITEMS: tuple[type[ui.DynamicItem[Any]], ...] = (
    ApproveButton,
    RejectButton,
    BanButton,
    ReleaseButton,
    DiscardButton,
)


def review_view(job_id: str) -> ui.View:
    view = ui.View(timeout=None)
    for button in (ApproveButton, RejectButton, BanButton):
        view.add_item(button(job_id))
    return view


def hold_view(job_id: str) -> ui.View:
    view = ui.View(timeout=None)
    view.add_item(ReleaseButton(job_id))
    view.add_item(DiscardButton(job_id))
    return view


class DecisionModal(ui.Modal):
    """Reject (or reject and ban) with an optional reason the member will read.

    The custom_id names the moderator too, so two moderators' open forms never replace each other.
    Like every modal it lives in memory: a form left open across a bot restart has to be opened again.
    """

    def __init__(self, job_id: str, moderator_id: int, *, ban: bool) -> None:
        kind = "ban" if ban else "reject"
        title = "Reject and ban the member" if ban else "Reject this request"
        super().__init__(title=title, timeout=900, custom_id=f"cc:rvform:{kind}:{job_id}:{moderator_id}")
        self.job_id = job_id
        self.ban = ban
        self.reason: ui.TextInput[Any] = ui.TextInput(
            label="Reason (the member sees it)",
            custom_id="reason",
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=300,
        )
        self.duration: ui.TextInput[Any] = ui.TextInput(
            label="Ban for (e.g. 12h, 7d; empty: until lifted)",
            custom_id="duration",
            required=False,
            max_length=20,
        )
        self.add_item(self.reason)
        if ban:
            self.add_item(self.duration)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        try:
            desk = desk_of(interaction)
        except BotError as exc:
            await reply(interaction, exc.user_message)
            return
        await desk.form_submitted(
            interaction,
            self.job_id,
            ban=self.ban,
            reason=self.reason.value or "",
            duration=(self.duration.value or "") if self.ban else "",
        )
