"""What happens when a member acts: every path that can start a job (slash command, Re-roll, Edit,
follow-up buttons, /show re-runs) goes through ``_submit``, so moderation and limits apply to all,
and every path that touches an existing job asks the one access rule first (``JobAccess``).

Handlers acknowledge quickly (Discord's 3-second deadline): one on an existing job asks the access
rule first (a few database reads), so a refusal is a private answer that leaves no public trace, then
acknowledges; attachments and ComfyUI come after. Whatever a handler raises reaches the member through
the one presenter (``answers_errors``); a handler that answered with a public "thinking" placeholder
has it replaced by the private answer (deleted first when no job came of it).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from bot.discord_ui.access import AccessDenied, JobAccess, channel_is_nsfw, role_ids
from bot.discord_ui.attachments import read_attachment
from bot.discord_ui.components import edit_form, waiting_view
from bot.discord_ui.moderation import MODERATOR_CANCEL_REASON
from bot.discord_ui.presenter import answers_errors, answers_errors_with, describe, reply
from bot.discord_ui.render import status_embed
from bot.discord_ui.results import prepare_results, result_buttons, result_message
from bot.discord_ui.status import Payload, StatusMessages, edit_args
from bot.errors import BotError, InvalidInput, JobNotFound
from bot.jobmodel.model import Job, OutputRef
from bot.jobmodel.states import OPEN_STATES
from bot.jobs.engine import JobEngine
from bot.jobs.planning import Attachment, JobRequest
from bot.jobs.updates import JobUpdate
from bot.media import OutputKind
from bot.media.fitter import MediaFitter
from bot.moderation import ModerationService, RequestContext, is_moderator, record_cancel
from bot.moderation.access import Action
from bot.moderation.audit import screening_verdict
from bot.templates import ParamType, Template, TemplateSet, follow_up_values, vary_values
from bot.templates.library import TemplateLibrary

if TYPE_CHECKING:
    from bot.discord_ui.intake import Intake
    from bot.discord_ui.review import ReviewDesk

log = logging.getLogger(__name__)


async def _replace_placeholder(
    controller: Controller, interaction: discord.Interaction[Any], error: BaseException
) -> None:
    await controller.fail_deferred(interaction, error)


@dataclass(frozen=True, slots=True)
class FrontEndOptions:
    anyone_can_reroll: bool = False
    max_attachment_bytes: int = 25 * 1024 * 1024
    max_image_side: int = 4096


class Controller:
    """Interaction handlers over the engine; the only state is the status message registry."""

    def __init__(
        self,
        engine: JobEngine,
        templates: TemplateSet | TemplateLibrary,
        messages: StatusMessages,
        moderation: ModerationService | None = None,
        options: FrontEndOptions | None = None,
        *,
        review: ReviewDesk | None = None,
        intake: Intake | None = None,
        fitter: MediaFitter,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``fitter`` fits results under a channel's upload limit (``/show``)."""
        self.engine = engine
        self.fitter = fitter
        self.templates = (
            templates if isinstance(templates, TemplateLibrary) else TemplateLibrary.fixed(templates)
        )
        """The templates as they are now (hot-reloaded): iterating gives the published ones."""
        self.messages = messages
        self.moderation = moderation
        self.options = options or FrontEndOptions()
        self.review = review
        self.intake = intake
        self.clock = clock
        self.access = JobAccess(moderation, anyone_can_reroll=self.options.anyone_can_reroll)
        """The one access rule, asked by every handler that touches an existing job."""

    # --- entry points ---------------------------------------------------------------------------------

    @answers_errors_with(_replace_placeholder)
    async def run_template(
        self, interaction: discord.Interaction[Any], template: Template, values: dict[str, Any]
    ) -> None:
        """A template's slash command."""
        await interaction.response.defer(thinking=True)
        if self.intake is not None:
            # Journal first: if the process dies before the job exists, the restart finishes it.
            await self.intake.record(interaction, template.name, values)
        try:
            attachments = [
                await read_attachment(
                    name,
                    value,
                    max_bytes=self.options.max_attachment_bytes,
                    max_side=self.options.max_image_side,
                )
                for name, value in values.items()
                if isinstance(value, discord.Attachment)
            ]
            plain = {k: v for k, v in values.items() if not isinstance(v, discord.Attachment)}
            await self._submit(interaction, template.name, plain, attachments)
        finally:
            if self.intake is not None:
                await self.intake.done(interaction.id)

    @answers_errors_with(_replace_placeholder)
    async def submit_recovered(
        self,
        interaction: discord.Interaction[Any],
        template_name: str,
        values: dict[str, Any],
        attachments: list[Attachment],
    ) -> None:
        """Finish a journalled command after a restart (``interaction`` is a RecoveredInteraction)."""
        existing = await self.engine.jobs.get_by_request(str(interaction.id))
        if existing is not None:
            await self.reattach(interaction, existing)
            return
        await self._submit(interaction, template_name, values, attachments)

    async def reattach(self, interaction: discord.Interaction[Any], job: Job) -> None:
        """A recovered command whose job exists: what was decided stays decided (no moderation, no
        charge, no message deleted); only a status message that was never shown is shown now."""
        log.info("job=%s re-attached to its recovered command (state %s)", job.id, job.state.value)
        if job.status_message is not None or job.state not in OPEN_STATES:
            return  # the status message exists (and may hold the result): leave it to the publisher
        try:
            await self._show_first_status(interaction, job)
        except discord.HTTPException:
            # The token died with the old process's time: show the job in the channel instead.
            update = self._first_update(job)
            await self.messages.show(
                job, Payload(embed=self._status_embed(update), view=waiting_view(job.id))
            )

    @answers_errors
    async def cancel_button(self, interaction: discord.Interaction[Any], job_id: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._cancel(interaction, await self._job(job_id))

    @answers_errors
    async def cancel_command(self, interaction: discord.Interaction[Any], job_id: str | None) -> None:
        """/cancel: the given job, or the member's newest open job in this server."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        if job_id is not None:
            await self._cancel(interaction, await self._job(job_id))
            return
        mine = []
        if interaction.guild_id is not None:
            mine = await self.engine.jobs.list_for_guild(
                interaction.guild_id, states=OPEN_STATES, user_id=interaction.user.id, limit=1
            )
        if not mine:
            raise JobNotFound("You have no jobs waiting or running here.")
        await self._cancel(interaction, mine[0])

    async def _cancel(self, interaction: discord.Interaction[Any], job: Job) -> None:
        allowed = await self.access.require(interaction, job, Action.CANCEL)
        if allowed.as_moderator:
            cancelled = await self.engine.cancel(job.id, reason=MODERATOR_CANCEL_REASON)
            if self.moderation is not None:
                await record_cancel(
                    self.moderation.audit,
                    guild_id=job.guild_id,
                    actor_id=interaction.user.id,
                    owner_id=job.user_id,
                    job_id=job.id,
                    reason=MODERATOR_CANCEL_REASON,
                )
        else:
            cancelled = await self.engine.cancel(job.id, by_user=interaction.user.id)
        await interaction.followup.send(f"Cancelled job `{cancelled.id}`.", ephemeral=True)

    @answers_errors_with(_replace_placeholder)
    async def reroll(self, interaction: discord.Interaction[Any], job_id: str) -> None:
        """Same parameters and images, a new seed."""
        job = await self._job(job_id)
        await self.access.require(interaction, job, Action.REROLL)  # a refusal leaves no public trace
        await interaction.response.defer(thinking=True)
        template = self._template(job.template)
        values = {k: v for k, v in job.params.items() if not _is_seed(template, k)}
        await self._submit(interaction, job.template, values, await self._inputs_of(job))

    @answers_errors
    async def edit(self, interaction: discord.Interaction[Any], job_id: str) -> None:
        """Open a form with the job's text parameters; submitting it starts a new job."""
        job = await self._job(job_id)
        await self.access.require(interaction, job, Action.EDIT)
        template = self._template(job.template)
        texts = {
            p.name: (str(job.params.get(p.name, "")), p.max_length or 4000)
            for p in template.params
            if p.type is ParamType.TEXT
        }
        if not texts:
            raise InvalidInput(f"/{template.name} has no text to edit; use Re-roll instead.")
        await interaction.response.send_modal(edit_form(job.id, interaction.user.id, template.name, texts))

    @answers_errors_with(_replace_placeholder)
    async def edit_submitted(
        self,
        interaction: discord.Interaction[Any],
        job_id: str,
        opened_by: int,
        texts: Mapping[str, str],
    ) -> None:
        """The Edit form came back (``opened_by``: the member it was opened for)."""
        if opened_by != interaction.user.id:
            raise AccessDenied("This form was opened by someone else; press Edit to open your own.")
        job = await self._job(job_id)
        await self.access.require(interaction, job, Action.EDIT)
        await interaction.response.defer(thinking=True)
        template = self._template(job.template)
        changed = {k: v for k, v in texts.items() if v != "" and template.has_param(k)}
        values = {**job.params, **changed}
        await self._submit(interaction, job.template, values, await self._inputs_of(job))

    @answers_errors_with(_replace_placeholder)
    async def follow_up(
        self, interaction: discord.Interaction[Any], job_id: str, index: int, output: int | None = None
    ) -> None:
        """A template's follow-up action (e.g. Upscale) on one image of this job: output ``output``,
        or the first image (the button under a single result)."""
        job = await self._job(job_id)
        await self.access.require(interaction, job, Action.FOLLOW_UP)
        await interaction.response.defer(thinking=True)
        template = self._template(job.template)
        if index >= len(template.actions):
            raise InvalidInput("That button no longer exists on this template.")
        action = template.actions[index]
        target = self._template(action.template)
        image = _image_output(await self.engine.outputs.list_for_job(job.id), output)
        if image is None:
            raise InvalidInput(f"Job `{job.id}` has no image to {action.label.lower()}.")
        if not image.path.exists():
            raise InvalidInput("The result image is no longer stored; run the job again first.")
        data = await self.engine.spool.read(image.path)
        values = follow_up_values(action, target, job.params)
        attachment = Attachment(action.image_param, f"{job.id}_{image.index + 1}{image.path.suffix}", data)
        await self._submit(interaction, target.name, dict(values), [attachment])

    @answers_errors_with(_replace_placeholder)
    async def vary(self, interaction: discord.Interaction[Any], job_id: str, output: int) -> None:
        """Make one image of a batch again on its own: the same seed and settings, the batch cut down to
        that image (``templates.vary``). It shows a result, so it follows the follow-ups' rule."""
        job = await self._job(job_id)
        await self.access.require(interaction, job, Action.FOLLOW_UP)  # a refusal leaves no public trace
        await interaction.response.defer(thinking=True)
        template = self._template(job.template)
        outputs = await self.engine.outputs.list_for_job(job.id)
        image = _image_output(outputs, output)
        if image is None or image.index != output:
            raise InvalidInput("That image is not part of this job's results any more.")
        # Its place in the batch: how many images its output node made before it.
        position = sum(1 for o in outputs if o.node_id == image.node_id and o.index < image.index)
        values = vary_values(template, job.params, position)
        await self._submit(interaction, job.template, values, await self._inputs_of(job))

    @answers_errors_with(_replace_placeholder)
    async def show(self, interaction: discord.Interaction[Any], job_id: str) -> None:
        """/show: post a delivered job's results again, with working buttons (the access rule decides
        who, where, and which results: see ``bot.moderation.access``)."""
        job = await self._job(job_id)
        await self.access.require(interaction, job, Action.SHOW)  # a refusal leaves no public trace
        await interaction.response.defer(thinking=True)
        outputs = await self.engine.outputs.list_for_job(job.id)
        if not outputs or not all(o.path.exists() for o in outputs):
            raise InvalidInput(f"The images of job `{job.id}` are no longer stored.")
        # Screening spoilered them when they were delivered: they stay spoilered. (Results withheld
        # before holds were job states were still marked DELIVERED: they stay withheld.)
        verdict = await screening_verdict(self.moderation.audit, job.id) if self.moderation else None
        if verdict in ("review", "block"):
            raise AccessDenied(f"The result of job `{job.id}` was withheld, so it can't be shown.")
        # This interaction says what this channel accepts per file, like the original delivery.
        prepared = await prepare_results(
            job, outputs, spool=self.engine.spool, fitter=self.fitter, limit=interaction.filesize_limit
        )
        if verdict == "spoiler":
            prepared = prepared.with_files([f.as_spoiler() for f in prepared.files])
        message = result_message(
            job,
            prepared,
            result_buttons(self.templates.get(job.template)),
            backend_name=self.engine.pool.display_name(job.backend),
        )
        await interaction.edit_original_response(
            **edit_args(message.payload, message.payload.discord_files())
        )
        for part in message.overflow:
            files = Payload(files=[(f.upload_name, f.data) for f in part]).discord_files()
            await interaction.followup.send(f"`{job.id}` results, continued", files=files)

    @answers_errors
    async def delete(self, interaction: discord.Interaction[Any], job_id: str) -> None:
        job = await self._job(job_id)
        await self.access.require(interaction, job, Action.DELETE)
        await interaction.response.defer(ephemeral=True, thinking=True)
        if interaction.message is not None:
            await interaction.message.delete()
        await interaction.followup.send("Deleted.", ephemeral=True)

    # --- the one way in -----------------------------------------------------------------------------------

    async def _submit(
        self,
        interaction: discord.Interaction[Any],
        template_name: str,
        values: dict[str, Any],
        attachments: list[Attachment],
    ) -> Job:
        template = self._template(template_name)
        lane, held, limits = "default", False, None
        if self.moderation is not None and interaction.guild_id is not None:
            context = await self._context(interaction, template, values)
            decision = await self.moderation.evaluate(context, self.clock())
            if decision.refused:
                raise BotError(decision.message or "This request is not allowed here.")
            lane, held, limits = decision.lane, decision.held, decision.limits
            if held and self.review is not None:
                await self.review.require_lane(interaction.guild_id)
        request = JobRequest(
            user_id=interaction.user.id,
            channel_id=interaction.channel_id or 0,
            guild_id=interaction.guild_id,
            age_restricted=channel_is_nsfw(interaction.channel),
            template=template.name,
            values=values,
            attachments=attachments,
            lane=lane,
            needs_review=held,
            request_id=str(interaction.id),  # a recovered command finds the job it already created
            limits=limits,  # checked and charged by the engine in the transaction that stores the job
        )
        job = await self.engine.submit(request)
        await self._show_first_status(interaction, job)
        log.info("job=%s created by user=%s via %s", job.id, interaction.user.id, interaction.type.name)
        if held and self.review is not None:
            await self.review.hold(job, context, decision)
        return job

    async def try_privately(
        self,
        interaction: discord.Interaction[Any],
        template: Template,
        values: dict[str, Any],
        attachments: list[Attachment],
    ) -> tuple[Job, str]:
        """Run ``template`` (a draft too) for the one asking, in a direct message only they see; returns
        the job and a link to its status message there.

        It is the template's owner checking their work, so no server's moderation or review applies
        (the engine's own queue limits do); the job belongs to no server, so its results can never be
        shown in one. Should the DM fail (DMs closed), the job is cancelled and the reason said.
        """
        dm = await interaction.user.create_dm()
        request = JobRequest(
            user_id=interaction.user.id,
            channel_id=dm.id,
            guild_id=None,
            age_restricted=False,
            template=template.name,
            values=values,
            attachments=attachments,
            request_id=str(interaction.id),
        )
        job = await self.engine.submit(request)
        payload = Payload(embed=self._status_embed(self._first_update(job)), view=waiting_view(job.id))
        try:
            ref = await self.messages.post(job, dm.id, payload)
        except discord.HTTPException as exc:
            with contextlib.suppress(BotError):
                await self.engine.cancel(job.id, by_user=interaction.user.id)
            log.info("job=%s try cancelled: no direct message to user=%s (%s)", job.id, job.user_id, exc.code)
            raise InvalidInput(
                "I can't send you direct messages, so nothing was run. Allow direct messages from this "
                "server's members (Privacy Settings) and try again."
            ) from None
        log.info("job=%s created by user=%s to try /%s", job.id, job.user_id, template.name)
        return job, f"https://discord.com/channels/@me/{dm.id}/{ref.message_id}"

    async def _show_first_status(self, interaction: discord.Interaction[Any], job: Job) -> None:
        """Turn the command's "thinking" response into the job's status message."""
        update = self._first_update(job)
        message = await interaction.edit_original_response(
            content=None, embed=self._status_embed(update), view=waiting_view(job.id)
        )
        self.messages.adopt(job.id, interaction, message.id, message.channel.id)
        await self.messages.persist(job.id)

    def _status_embed(self, update: JobUpdate) -> discord.Embed:
        return status_embed(update, backend_name=self.engine.pool.display_name(update.job.backend))

    def _first_update(self, job: Job) -> JobUpdate:
        place = self.engine.position(job.id)
        if place is None:
            return JobUpdate(job=job)
        return JobUpdate(
            job=job,
            position=place[0],
            eta_seconds=place[1],
            waiting_reason=self.engine.pool.why_waiting(job.template),
        )

    async def fail_deferred(self, interaction: discord.Interaction[Any], exc: BaseException) -> None:
        """Replace the public 'thinking' placeholder (if there is one yet) by a private explanation.

        The placeholder is deleted only when no job came of this interaction: once a job exists, the
        original response is (or will be) its status message, and may hold its result.
        """
        text = describe(exc)
        if not interaction.response.is_done():
            await reply(interaction, text)  # refused before anything public was shown
            return
        try:
            job = await self.engine.jobs.get_by_request(str(interaction.id))
        except Exception:
            log.exception(
                "could not tell whether interaction %s made a job; keeping its message", interaction.id
            )
        else:
            if job is None:
                with contextlib.suppress(discord.HTTPException):
                    await interaction.delete_original_response()
        await reply(interaction, text)

    # --- helpers -----------------------------------------------------------------------------------------

    async def _job(self, job_id: str) -> Job:
        job = await self.engine.jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"There is no job `{job_id}`.")
        return job

    def _template(self, name: str) -> Template:
        template = self.templates.runnable(name)
        if template is None:
            if self.templates.is_retired(name):
                raise InvalidInput(f"The template `/{name}` was retired, so this can't run any more.")
            raise InvalidInput(f"The template `{name}` is no longer available.")
        return template

    async def _inputs_of(self, job: Job) -> list[Attachment]:
        attachments = []
        for ref in job.inputs:
            if not ref.path.exists():
                raise InvalidInput("The images of that job are no longer stored; start a new one.")
            attachments.append(Attachment(ref.param, ref.filename, await self.engine.spool.read(ref.path)))
        return attachments

    async def _is_moderator(self, interaction: discord.Interaction[Any]) -> bool:
        if interaction.guild_id is None:
            return False
        roles = role_ids(interaction.user)
        policy = await self.moderation.policy(interaction.guild_id) if self.moderation else None
        if policy is None:
            return bool(interaction.permissions.manage_messages or interaction.permissions.manage_guild)
        return is_moderator(interaction.permissions.value, roles, policy)

    async def _context(
        self, interaction: discord.Interaction[Any], template: Template, values: Mapping[str, Any]
    ) -> RequestContext:
        user = interaction.user
        nsfw = channel_is_nsfw(interaction.channel)
        joined = getattr(user, "joined_at", None)
        return RequestContext(
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id or 0,
            user_id=user.id,
            template=template.name,
            texts={
                k: v
                for k, v in values.items()
                if isinstance(v, str) and template.has_param(k) and template.param(k).type is ParamType.TEXT
            },
            role_ids=role_ids(user),
            channel_nsfw=nsfw,
            template_nsfw=template.nsfw,
            is_moderator=await self._is_moderator(interaction),
            account_created_at=user.created_at.timestamp(),
            member_joined_at=joined.timestamp() if joined else None,
        )


def _image_output(outputs: list[OutputRef], index: int | None) -> OutputRef | None:
    """Output ``index`` if it is an image, else None; with no index, the job's first image."""
    images = [o for o in outputs if o.kind is OutputKind.IMAGE]
    if index is None:
        return images[0] if images else None
    return next((o for o in images if o.index == index), None)


def _is_seed(template: Template, name: str) -> bool:
    return template.has_param(name) and template.param(name).type is ParamType.SEED
