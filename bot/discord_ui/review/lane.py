"""Requests waiting for review: posted once in the server's review channel, kept current until decided.

A request the policy holds (PENDING_REVIEW) is posted with the requester, template, parameters and
small thumbnails of its input images, under Approve / Reject / Reject and ban buttons. Where the post
is is recorded (a deliveries row), so it is made once and found again after a restart; requests that
wait without one (the channel was unreachable) are posted when the bot next starts. When a request
leaves review some other way (the member cancels, a moderator purges), its message says so.
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Final

import discord
from PIL import Image

from bot.discord_ui.moderation import NO_PINGS
from bot.discord_ui.review.buttons import review_view
from bot.discord_ui.review.render import entry_line, hold_reason, review_embed
from bot.errors import BotError
from bot.jobmodel.model import Job, MessageRef
from bot.jobmodel.states import JobState
from bot.jobs.engine import JobEngine
from bot.moderation import AuditAction, Decision, ModerationService, RequestContext, record_review_hold
from bot.storage import AuditEntry

log = logging.getLogger(__name__)

REVIEW_KIND: Final = "review"
"""Deliveries row: where a job's review message is (so it is posted once, and found after a restart)."""
THUMBNAIL_SIDE: Final = 256
MAX_THUMBNAILS: Final = 4


class ReviewUnavailable(BotError):
    """A request needs review, but the guild has nowhere to review it."""


def spoiler(name: str) -> str:
    """A file name Discord shows blurred until clicked."""
    return name if name.startswith("SPOILER_") else f"SPOILER_{name}"


def discord_files(files: list[tuple[str, bytes]]) -> list[discord.File]:
    """(name, bytes) pairs as files for one request (a fresh buffer each, so a retry can resend them)."""
    return [discord.File(io.BytesIO(data), filename=name) for name, data in files]


def _thumbnail(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        out = io.BytesIO()
        image.convert("RGBA" if "A" in image.getbands() else "RGB").save(out, format="PNG", optimize=True)
        return out.getvalue()


class ReviewLane:
    """Posts requests for review and keeps their messages in step with the jobs."""

    def __init__(self, client: discord.Client, engine: JobEngine, moderation: ModerationService) -> None:
        self._client = client
        self._engine = engine
        self._moderation = moderation
        self._open: dict[str, MessageRef] = {}
        """Review messages of jobs still waiting, to update once they no longer do."""
        self._posting: set[str] = set()

    # --- taking a request -------------------------------------------------------------------------

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
            ref = await self.message_of(job.id)
            if ref is not None:
                return ref
            channel_id = (await self._moderation.policy(job.guild_id)).review_channel
            if channel_id is None:
                log.warning(
                    "job=%s waits for review but guild=%s has no review channel", job.id, job.guild_id
                )
                return None
            message = await self._client.get_partial_messageable(channel_id).send(
                embed=review_embed(job, await self.why(job)),
                files=discord_files(await self._thumbnails(job)),
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
            await self.edit(ref, current, await self.outcome_line(current))
        return ref

    async def message_of(self, job_id: str) -> MessageRef | None:
        """Where the job's review message is, if it was posted."""
        posted = await self._engine.deliveries.get(job_id, REVIEW_KIND)
        if posted is None or not posted.channel_id or not posted.message_ids:
            return None
        return MessageRef(posted.channel_id, posted.message_ids[0])

    async def why(self, job: Job) -> str:
        """Why the job waits for review, in the moderators' words."""
        return hold_reason(await self._moderation.audit.for_job(job.id))

    async def _thumbnails(self, job: Job) -> list[tuple[str, bytes]]:
        thumbs = []
        for ref in job.inputs[:MAX_THUMBNAILS]:
            try:
                data = await self._engine.spool.read(ref.path)
                thumbs.append((spoiler(f"{ref.param}.png"), await asyncio.to_thread(_thumbnail, data)))
            except (OSError, ValueError) as exc:
                log.warning("job=%s no thumbnail for %s: %s", job.id, ref.param, exc)
        return thumbs

    # --- keeping the message current -----------------------------------------------------------------

    def claim(self, job_id: str) -> MessageRef | None:
        """A moderator is deciding: the caller updates the message, not the update watcher."""
        return self._open.pop(job_id, None)

    def unclaim(self, job_id: str, ref: MessageRef | None) -> None:
        """The decision did not happen: the watcher looks after the message again."""
        if ref is not None:
            self._open.setdefault(job_id, ref)

    async def left_review(self, job: Job) -> None:
        """The job no longer waits for review (the watcher saw it): its message says what happened."""
        ref = self._open.pop(job.id, None)
        if ref is not None:
            await self.edit(ref, job, await self.outcome_line(job))

    async def decision_entry(self, job_id: str) -> AuditEntry | None:
        """The moderator's decision on a request, from the audit log."""
        entries = await self._moderation.audit.for_job(job_id)
        decisions = (AuditAction.REVIEW_APPROVE, AuditAction.REVIEW_REJECT, AuditAction.REVIEW_BAN)
        return next((e for e in reversed(entries) if e.action in decisions), None)

    async def outcome_line(self, job: Job) -> str:
        """The review message's last word on a job that no longer waits."""
        entry = await self.decision_entry(job.id)
        if entry is not None:
            return entry_line(entry)
        if job.state is JobState.CANCELLED:
            return f"🚫 {job.failure_reason or 'Cancelled.'}".rstrip(".")
        return f"No longer waiting for review ({job.state.value.replace('_', ' ')})"

    async def edit(self, ref: MessageRef, job: Job, line: str) -> None:
        """Show the decision on a review message and remove its buttons (never fails the caller)."""
        if ref.message_id is None:
            return
        embed = review_embed(job, await self.why(job), line)
        try:
            message = self._client.get_partial_messageable(ref.channel_id).get_partial_message(ref.message_id)
            await message.edit(embed=embed, view=None)
        except discord.HTTPException as exc:
            log.warning("job=%s review message not updated: %s", job.id, exc)

    async def recover(self) -> None:
        """After a restart: post what waits without a review message, watch the messages of the rest."""
        for job in await self._engine.jobs.list_by_state(JobState.PENDING_REVIEW):
            ref = await self.message_of(job.id)
            if ref is None:
                await self.post(job)
            else:
                self._open.setdefault(job.id, ref)
