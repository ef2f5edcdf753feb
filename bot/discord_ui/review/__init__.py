"""The review lane: what moderators see and decide, in the server's review channel.

- ``lane``: requests the policy holds (PENDING_REVIEW) are posted for review and their messages kept
  current;
- ``decisions``: Approve, Reject, Reject and ban (from buttons and a form that survives restarts);
- ``holds``: output screening, and results held for a moderator (Release / Discard);
- ``buttons``: the moderators' buttons and the decision form;
- ``render``: what those messages say.

``ReviewDesk`` puts them together for the composition root and is the ``ReviewActions`` the buttons
and forms talk to. Every decision asks the one access rule (``bot.moderation.access``): a moderator
of the job's own server, whatever path the decision takes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import discord

from bot.discord_ui.forms import FormRouter
from bot.discord_ui.moderation import ModLog
from bot.discord_ui.results import ResultFile
from bot.discord_ui.review.buttons import DECISION_FORM, REVIEW_ITEMS, decision_submitted
from bot.discord_ui.review.decisions import ReviewDecisions
from bot.discord_ui.review.holds import OutputHolds, Screened
from bot.discord_ui.review.lane import ReviewLane, ReviewUnavailable
from bot.discord_ui.review.render import decision_line, review_embed
from bot.jobmodel.model import Job
from bot.jobmodel.states import JobState
from bot.jobs.engine import JobEngine
from bot.jobs.updates import JobUpdate, Mailbox
from bot.media.fitter import MediaFitter
from bot.moderation import Decision, ModerationService, RequestContext, Screener
from bot.supervisor import Supervisor

__all__ = [
    "REVIEW_ITEMS",
    "ReviewDesk",
    "ReviewUnavailable",
    "Screened",
    "decision_line",
    "review_embed",
]

log = logging.getLogger(__name__)


class ReviewDesk:
    """The review lane, its decisions and output holds, watching the engine's updates as one."""

    def __init__(
        self,
        client: discord.Client,
        engine: JobEngine,
        moderation: ModerationService,
        *,
        screener: Screener | None = None,
        fitter: MediaFitter,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._engine = engine
        self.mod_log = ModLog(client, moderation)
        self.lane = ReviewLane(client, engine, moderation)
        self.decisions = ReviewDecisions(engine, moderation, self.lane, self.mod_log, clock=clock)
        self.holds = OutputHolds(client, engine, moderation, self.mod_log, screener, fitter=fitter)
        self._box: Mailbox | None = None

    # --- lifecycle ------------------------------------------------------------------------------------

    def start(self, supervisor: Supervisor) -> None:
        """Watch the engine's updates, and once connected post what waits without a message."""
        box = self._box = self._engine.updates.subscribe()
        supervisor.loop("review-watch", lambda: self._watch(box))
        supervisor.spawn(self._recover(), name="review-recover")

    async def close(self) -> None:
        if self._box is not None:
            self._engine.updates.unsubscribe(self._box)
            self._box = None

    @staticmethod
    def register_forms(forms: FormRouter) -> None:
        """The decision form comes back through the client's FormRouter."""
        forms.add(DECISION_FORM, decision_submitted)

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
            await self.lane.left_review(job)
        await self.holds.on_update(job)

    async def _recover(self) -> None:
        # wait_until_ready() refuses to run before login, which happens after this task starts.
        while not self._client.is_ready():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await self.lane.recover()
        await self.holds.recover()

    # --- what the controller and the publisher use ------------------------------------------------------

    async def require_lane(self, guild_id: int) -> None:
        """Refuse a request that needs review when the guild has nowhere to review it."""
        await self.lane.require_lane(guild_id)

    async def hold(self, job: Job, ctx: RequestContext, decision: Decision) -> None:
        """A job was created waiting for review: record why and post it for the moderators."""
        await self.lane.hold(job, ctx, decision)

    async def screen(self, job: Job, files: list[ResultFile]) -> Screened:
        """Output screening: the publisher's hook (see holds.py)."""
        return await self.holds.screen(job, files)

    # --- ReviewActions: what the buttons and forms ask for ---------------------------------------------

    async def approve(self, interaction: discord.Interaction[Any], job_id: str) -> None:
        await self.decisions.approve(interaction, job_id)

    async def open_form(self, interaction: discord.Interaction[Any], job_id: str, *, ban: bool) -> None:
        await self.decisions.open_form(interaction, job_id, ban=ban)

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
        await self.decisions.form_submitted(
            interaction, job_id, ban=ban, opened_by=opened_by, reason=reason, duration=duration
        )

    async def decide_output(
        self, interaction: discord.Interaction[Any], job_id: str, *, release: bool
    ) -> None:
        await self.holds.decide_output(interaction, job_id, release=release)
