"""Commands survive a crash between their acknowledgement and their job.

A slash command is journalled right after it is acknowledged, with what is needed to run it again
(values, attachment URLs, the member's roles and permissions, the interaction token), and removed
once it became a job or was refused with a message. After a restart, journalled commands are run
again: submission is idempotent by interaction id, so one that already became a job is just picked
up. While the token lives (15 minutes) the original "thinking" response becomes the status message
as usual; after that the member is told in the channel to run the command again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.errors import InvalidInput
from bot.imaging import DEFAULT_MAX_SIDE, MAX_IMAGE_FILE_BYTES, normalise_image
from bot.jobs.planning import Attachment
from bot.secret import Secret
from bot.storage import IntakeAttachment, IntakeEntry, IntakeRepository

if TYPE_CHECKING:
    from bot.discord_ui.controller import Controller

log = logging.getLogger(__name__)

TOKEN_SECONDS = 14 * 60
DEFAULT_FILESIZE_LIMIT = 10 * 1024 * 1024  # Discord's default per-file limit for bots
CONTEXT_KEY = "__context__"  # member facts stored beside the values, never passed to a template


def journal_entry(
    interaction: discord.Interaction[Any], template: str, values: Mapping[str, Any], now: float
) -> IntakeEntry:
    """What is needed to run this command again without the interaction object."""
    attachments = tuple(
        IntakeAttachment(name, value.url, value.filename, value.size, value.content_type)
        for name, value in values.items()
        if isinstance(value, discord.Attachment)
    )
    plain = {k: v for k, v in values.items() if not isinstance(v, discord.Attachment)}
    user = interaction.user
    joined = getattr(user, "joined_at", None)
    channel = interaction.channel
    plain[CONTEXT_KEY] = {
        "roles": [r.id for r in getattr(user, "roles", ())],
        "permissions": interaction.permissions.value,
        "created_at": user.created_at.timestamp(),
        "joined_at": joined.timestamp() if joined else None,
        "nsfw": bool(channel is not None and hasattr(channel, "is_nsfw") and channel.is_nsfw()),
    }
    return IntakeEntry(
        interaction_id=str(interaction.id),
        application_id=int(interaction.application_id),
        token=Secret(interaction.token),
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id or 0,
        user_id=user.id,
        template=template,
        values=plain,
        attachments=attachments,
        received_at=now,
    )


@dataclass
class _Role:
    id: int


class _User:
    def __init__(self, user_id: int, context: Mapping[str, Any]) -> None:
        self.id = user_id
        self.roles = [_Role(r) for r in context.get("roles", [])]
        self.created_at = datetime.fromtimestamp(float(context.get("created_at") or 0), UTC)
        joined = context.get("joined_at")
        self.joined_at = datetime.fromtimestamp(float(joined), UTC) if joined else None
        self.mention = f"<@{user_id}>"


class _Channel:
    def __init__(self, nsfw: bool) -> None:
        self._nsfw = nsfw

    def is_nsfw(self) -> bool:
        return self._nsfw


class _Response:
    @staticmethod
    def is_done() -> bool:
        return True  # it was deferred before the journal entry was written


class _Kind:
    name = "recovered_command"


class RecoveredInteraction:
    """As much of a discord.Interaction as the controller uses, rebuilt from a journal entry and
    talking to Discord through the interaction's webhook (its token)."""

    def __init__(self, client: discord.Client, entry: IntakeEntry) -> None:
        context = cast(Mapping[str, Any], entry.values.get(CONTEXT_KEY, {}))
        self.id = int(entry.interaction_id)
        self.guild_id = entry.guild_id
        self.channel_id = entry.channel_id
        self.user = _User(entry.user_id, context)
        self.channel = _Channel(bool(context.get("nsfw")))
        self.permissions = discord.Permissions(int(context.get("permissions") or 0))
        self.type = _Kind()
        self.response = _Response()
        self._webhook = discord.Webhook.partial(entry.application_id, entry.token.reveal(), client=client)
        # It is the interaction's own webhook, so private (ephemeral) follow-ups are allowed.
        self._webhook.type = discord.WebhookType.application
        self.followup = self._webhook
        self.filesize_limit = DEFAULT_FILESIZE_LIMIT

    async def edit_original_response(self, **fields: Any) -> discord.WebhookMessage:
        return await self._webhook.edit_message(cast(int, "@original"), **fields)

    async def delete_original_response(self) -> None:
        await self._webhook.delete_message(cast(int, "@original"))


class Intake:
    """The journal around command handling, and the recovery after a restart."""

    def __init__(
        self,
        repo: IntakeRepository,
        *,
        clock: Callable[[], float] = time.time,
        max_image_side: int = DEFAULT_MAX_SIDE,
    ) -> None:
        self._repo = repo
        self._clock = clock
        self._max_side = max_image_side

    async def record(
        self, interaction: discord.Interaction[Any], template: str, values: Mapping[str, Any]
    ) -> None:
        await self._repo.add(journal_entry(interaction, template, values, self._clock()))

    async def done(self, interaction_id: int | str) -> None:
        await self._repo.remove(str(interaction_id))

    async def recover(self, client: discord.Client, controller: Controller, *, before: float) -> int:
        """Run again every command journalled before ``before`` (this process's start: later entries
        belong to commands this process is handling right now); returns how many there were."""
        entries = [e for e in await self._repo.pending() if e.received_at < before]
        for entry in entries:
            try:
                await self._recover_one(client, controller, entry)
            except Exception:
                log.exception("could not recover the command of interaction %s", entry.interaction_id)
            finally:
                await self._repo.remove(entry.interaction_id)
        if entries:
            log.info("recovered %d command(s) interrupted by a restart", len(entries))
        return len(entries)

    async def _recover_one(self, client: discord.Client, controller: Controller, entry: IntakeEntry) -> None:
        existing = await controller.engine.jobs.get_by_request(entry.interaction_id)
        if existing is not None:
            # The command became a job before the crash: re-attach, never decide or charge again.
            await controller.reattach(cast(Any, RecoveredInteraction(client, entry)), existing)
            return
        if self._clock() - entry.received_at > TOKEN_SECONDS:
            channel = client.get_partial_messageable(entry.channel_id)
            await channel.send(
                f"<@{entry.user_id}>, your `/{entry.template}` request was interrupted by a restart before "
                "it was queued. Please run it again.",
                allowed_mentions=discord.AllowedMentions(users=True, everyone=False, roles=False),
            )
            return
        attachments = [await _download(client, item, self._max_side) for item in entry.attachments]
        values = {k: v for k, v in entry.values.items() if k != CONTEXT_KEY}
        interaction = RecoveredInteraction(client, entry)
        await controller.submit_recovered(cast(Any, interaction), entry.template, values, attachments)


async def _download(client: discord.Client, item: IntakeAttachment, max_side: int) -> Attachment:
    """Fetch a journalled attachment again (its URL is still signed for a while) and normalise it,
    under the same limits as the first time."""
    what = f"`{item.param}` attachment ({item.filename})"
    if item.size > MAX_IMAGE_FILE_BYTES:
        raise InvalidInput(
            f"The {what} is {item.size / 2**20:.1f} MiB; the limit is {MAX_IMAGE_FILE_BYTES / 2**20:.0f} MiB."
        )
    try:
        data = await client.http.get_from_cdn(item.url)
    except discord.HTTPException:
        raise InvalidInput(f"The {what} link has expired; attach the file again.") from None
    image = await asyncio.to_thread(normalise_image, data, what=what, max_side=max_side)
    stem = item.filename.rsplit(".", 1)[0][:60] or "image"
    return Attachment(item.param, f"{stem}.png", image.data)
