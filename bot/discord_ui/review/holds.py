"""Output screening, and results held for a moderator.

With a screener installed, results bound for a channel that is not age-restricted are classified
before they are posted, and the server's ``nsfw_output_action`` spoilers them, withholds them
(WITHHELD: the member is told why) or holds them for a moderator (HELD). Held results are job state,
not a message: the janitor keeps their images however long the moderators take, and a restart loses
nothing. The moderators get the results, spoilered, in the review channel under Release / Discard:

- Release moves the job to RELEASED with the moderator's audit entry, in one transaction, and hands
  it to the engine's deliverer, which posts it like any result (retried until it lands, resumed after a
  restart) and never screens it again;
- Discard moves it to WITHHELD (same transaction), and the member's status message says so.

Two moderators clicking at once: the state move is the claim, so exactly one decides.
"""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import dataclass, field
from typing import Any, Final

import av
import discord

from bot.discord_ui.access import JobAccess, channel_is_nsfw
from bot.discord_ui.moderation import NO_PINGS, ModLog
from bot.discord_ui.presenter import answers_errors
from bot.discord_ui.results import PreparedResult, ResultFile, prepare_results, text_block
from bot.discord_ui.review.buttons import acknowledge, hold_view
from bot.discord_ui.review.lane import discord_files
from bot.discord_ui.review.render import (
    DISCARD_REASON,
    blocked_notice,
    held_notice,
    hold_embed,
    output_decision_line,
)
from bot.discord_ui.status import message_nonce
from bot.errors import BotError, JobNotFound
from bot.jobmodel.model import Job, MessageRef
from bot.jobmodel.states import IllegalTransition, JobState
from bot.jobs.engine import JobEngine
from bot.media import OutputKind
from bot.media.fitter import MediaFitter
from bot.media.video import sample_frames
from bot.moderation import (
    AuditAction,
    ModerationService,
    OutputAction,
    Screener,
    ScreeningResult,
    output_action,
    record_output_review,
    record_output_screened,
)
from bot.moderation.access import Action
from bot.storage import AuditEntry

log = logging.getLogger(__name__)

HOLD_MESSAGE_KIND: Final = "output_hold"
"""Deliveries row: where held results were posted for the moderators (posted once)."""
HOLD_BYTES: Final = 20 * 1024 * 1024
HOLD_FILES: Final = 10
DEFAULT_FILE_LIMIT: Final = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Screened:
    """What the publisher does with a job's results: post ``files`` (each flagged one spoilered), or,
    when ``outcome`` is HELD or WITHHELD, show ``notice`` instead of them."""

    files: list[ResultFile]
    outcome: JobState = JobState.DELIVERED
    notice: discord.Embed | None = field(default=None)


def screenable(item: ResultFile) -> list[bytes]:
    """What the image checker looks at for one result: an image itself; a video's or an animation's
    start, middle and end; nothing for sound and text. Blocking: for a worker thread."""
    if item.kind is OutputKind.IMAGE:
        return [item.data]
    if item.kind in (OutputKind.ANIMATION, OutputKind.VIDEO):
        try:
            frames = sample_frames(item.data)
        except (OSError, ValueError, av.FFmpegError):
            log.warning("no frames to screen in %s", item.name)
            return []
        out = []
        for frame in frames:
            buffer = io.BytesIO()
            frame.save(buffer, format="PNG")
            out.append(buffer.getvalue())
        return out
    return []


def _worst(results: list[ScreeningResult]) -> ScreeningResult | None:
    """One verdict for several frames of one result: flagged if any frame is."""
    if not results:
        return None
    flagged = [r for r in results if r.nsfw]
    pool = flagged or results
    labels = tuple(sorted({label for r in pool for label in r.labels}))
    return ScreeningResult(nsfw=bool(flagged), score=max(r.score for r in pool), labels=labels)


class OutputHolds:
    """Screens results on their way to the member, and puts held ones before the moderators."""

    def __init__(
        self,
        client: discord.Client,
        engine: JobEngine,
        moderation: ModerationService,
        mod_log: ModLog,
        screener: Screener | None = None,
        *,
        fitter: MediaFitter,
    ) -> None:
        self._client = client
        self._fitter = fitter
        self._engine = engine
        self._moderation = moderation
        self._mod_log = mod_log
        self._screener = screener
        self._access = JobAccess(moderation)
        self._posting: set[str] = set()

    # --- screening (the publisher's hook) -------------------------------------------------------------

    async def screen(self, job: Job, files: list[ResultFile]) -> Screened:
        """Classify results bound for a channel that is not age-restricted, each one on its own (a
        video by several frames); apply the guild's action: spoiler the flagged ones, or hold or
        withhold the whole result."""
        if self._screener is None or not files or job.state is JobState.RELEASED or self._nsfw(job):
            return Screened(files)
        results: list[ScreeningResult | None] = []
        for item in files:
            verdicts: list[ScreeningResult] = []
            try:
                for picture in await asyncio.to_thread(screenable, item):
                    verdict = await asyncio.to_thread(self._screener.classify, picture)
                    verdicts.append(verdict)
            except Exception:
                # The core's contract: a result that could not be classified counts as not screened.
                log.exception("job=%s output screening failed", job.id)
                verdicts = []
            results.append(_worst(verdicts))
        policy = await self._moderation.policy(job.guild_id)
        action = output_action(policy, channel_nsfw=False, results=results)
        if action is OutputAction.DELIVER:
            return Screened(files)
        if action is OutputAction.REVIEW and policy.review_channel is None:
            log.warning("job=%s output held for review but there is no review channel: blocked", job.id)
            action = OutputAction.BLOCK
        flagged = [r for r in results if r is not None and r.nsfw]
        score = max(r.score for r in flagged)
        await record_output_screened(
            self._moderation.audit,
            guild_id=job.guild_id,
            user_id=job.user_id,
            job_id=job.id,
            action=action.value,
            score=score,
            labels=sorted({label for r in flagged for label in r.labels}),
        )
        log.info("job=%s output flagged by the screener: %s", job.id, action.value)
        await self._mod_log.post(
            job.guild_id,
            f"🔞 The image checker flagged the result of job `{job.id}` of <@{job.user_id}> "
            f"(score {score:.2f}): {action.value}.",
        )
        if action is OutputAction.SPOILER:
            return Screened(
                [
                    f.as_spoiler() if r is not None and r.nsfw else f
                    for f, r in zip(files, results, strict=True)
                ]
            )
        if action is OutputAction.REVIEW:
            return Screened([], JobState.HELD, held_notice(job))
        return Screened([], JobState.WITHHELD, blocked_notice(job))

    def _nsfw(self, job: Job) -> bool:
        if job.age_restricted is not None:
            return job.age_restricted
        # Jobs stored before this was recorded: the channel as it is now (unknown: screen it).
        return channel_is_nsfw(self._client.get_channel(job.channel_id))

    # --- putting held results before the moderators ------------------------------------------------------

    async def on_update(self, job: Job) -> None:
        """The watcher saw a job move: a newly held one is posted for the moderators."""
        if job.state is JobState.HELD:
            await self.post(job)

    async def recover(self) -> None:
        """After a restart: post held results that never reached the review channel."""
        for job in await self._engine.jobs.list_by_state(JobState.HELD):
            await self.post(job)

    async def post(self, job: Job) -> MessageRef | None:
        """Post held results in the review channel, once; None if that is not possible now (the job
        keeps waiting, and the next start tries again)."""
        if job.id in self._posting or job.guild_id is None:
            return None
        self._posting.add(job.id)
        try:
            posted = await self._engine.deliveries.get(job.id, HOLD_MESSAGE_KIND)
            if posted is not None and posted.channel_id and posted.message_ids:
                return MessageRef(posted.channel_id, posted.message_ids[0])
            channel_id = (await self._moderation.policy(job.guild_id)).review_channel
            if channel_id is None:
                log.warning("job=%s results held, but guild=%s has no review channel", job.id, job.guild_id)
                return None
            held = await self._held(job)
            embed = hold_embed(job, await self._screened_entry(job.id))
            shown, _ = text_block(held.texts)
            if shown:
                embed.add_field(name="Output", value=_spoilered(shown), inline=False)
            message = await self._client.get_partial_messageable(channel_id).send(
                embed=embed,
                files=discord_files([(f.upload_name, f.data) for f in held.files]),
                view=hold_view(job.id),
                allowed_mentions=NO_PINGS,
                # Posting again after a crash returns this message instead of a second one.
                nonce=message_nonce(job.id, "output-hold"),
            )
            await self._engine.deliveries.record_delivery(
                job.id, HOLD_MESSAGE_KIND, channel_id=channel_id, message_ids=[message.id]
            )
            log.info("job=%s held results posted for the moderators in channel=%s", job.id, channel_id)
            return MessageRef(channel_id, message.id)
        except (discord.HTTPException, OSError) as exc:
            log.warning("job=%s held results could not be posted for the moderators: %s", job.id, exc)
            return None
        finally:
            self._posting.discard(job.id)

    async def _held(self, job: Job) -> PreparedResult:
        """The held results, fitted to the review channel's guild and spoilered, within one message."""
        guild = self._client.get_guild(job.guild_id) if job.guild_id else None
        limit = guild.filesize_limit if guild is not None else DEFAULT_FILE_LIMIT
        outputs = (await self._engine.outputs.list_for_job(job.id))[:HOLD_FILES]
        prepared = await prepare_results(
            job, outputs, spool=self._engine.spool, fitter=self._fitter, limit=limit
        )
        chosen: list[ResultFile] = []
        size = 0
        for item in prepared.files[:HOLD_FILES]:
            if chosen and size + len(item.data) > HOLD_BYTES:
                break
            chosen.append(item.as_spoiler())
            size += len(item.data)
        return prepared.with_files(chosen)

    async def _screened_entry(self, job_id: str) -> AuditEntry | None:
        entries = await self._moderation.audit.for_job(job_id)
        return next((e for e in reversed(entries) if e.action == AuditAction.OUTPUT_SCREENED), None)

    # --- the moderators' decision ------------------------------------------------------------------------

    @answers_errors
    async def decide_output(
        self, interaction: discord.Interaction[Any], job_id: str, *, release: bool
    ) -> None:
        """Release or Discard held results; the first moderator to click decides."""
        job = await self._engine.jobs.get(job_id)
        if job is None:
            raise JobNotFound("This job no longer exists.")
        await self._access.require(interaction, job, Action.MODERATE)
        if release and job.state is JobState.HELD and not await self._stored(job):
            raise BotError("The images of this job are no longer stored, so they can't be released.")
        await acknowledge(interaction)
        moderator = interaction.user.id
        try:
            async with self._engine.db.transaction():
                if release:
                    decided = await self._engine.release(job.id)
                else:
                    decided = await self._engine.withhold(job.id, DISCARD_REASON)
                await record_output_review(
                    self._moderation.audit,
                    released=release,
                    guild_id=job.guild_id,
                    moderator_id=moderator,
                    member_id=job.user_id,
                    job_id=job.id,
                )
        except IllegalTransition:
            await self._already(interaction, job)
            return
        line = output_decision_line(released=release, moderator_id=moderator)
        log.info(
            "job=%s held results %s by user=%s", job.id, "released" if release else "discarded", moderator
        )
        await self._show(interaction, decided, line)
        await self._mod_log.post(job.guild_id, f"{line} — held result of job `{job.id}` of <@{job.user_id}>")
        await interaction.followup.send("Released." if release else "Discarded.", ephemeral=True)

    async def _stored(self, job: Job) -> bool:
        outputs = await self._engine.outputs.list_for_job(job.id)
        return bool(outputs) and all(o.path.exists() for o in outputs)

    async def _already(self, interaction: discord.Interaction[Any], job: Job) -> None:
        entries = await self._moderation.audit.for_job(job.id)
        decisions = (AuditAction.OUTPUT_RELEASE, AuditAction.OUTPUT_DISCARD)
        entry = next((e for e in reversed(entries) if e.action in decisions), None)
        if entry is None:
            text = f"These results are no longer held (the job is {job.state.value.replace('_', ' ')})."
        else:
            line = output_decision_line(
                released=entry.action == AuditAction.OUTPUT_RELEASE, moderator_id=entry.actor_id
            )
            text = f"Already decided — {line}."
            if interaction.message is not None and interaction.message.components:
                await self._show(interaction, job, line)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)

    async def _show(self, interaction: discord.Interaction[Any], job: Job, line: str) -> None:
        """Put the decision on the held message and remove its buttons."""
        embed = hold_embed(job, await self._screened_entry(job.id), line)
        try:
            await interaction.edit_original_response(embed=embed, view=None)
        except discord.HTTPException as exc:
            log.info("job=%s held message not edited through the interaction: %s", job.id, exc)


def _spoilered(text: str) -> str:
    """A text output for the moderators, blurred like the held images (Discord's ``||spoiler||``)."""
    body = text.replace("||", "|\u200b|")[:1000]
    return f"||{body}||"
