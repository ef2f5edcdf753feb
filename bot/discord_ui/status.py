"""Each job's one status message, kept editable for the job's whole life.

While the interaction token is young the message is edited through it; after that (tokens die after
15 minutes), after a restart, or when the token route fails, it is edited through the channel like
any bot message; if someone deleted it, a new one is posted and remembered.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import discord

from bot.jobmodel.model import Job, MessageRef
from bot.jobs.engine import JobEngine

log = logging.getLogger(__name__)

TOKEN_SAFE_SECONDS = 14 * 60  # stop using a token a minute before Discord kills it
NO_MENTIONS = discord.AllowedMentions.none()
"""Job messages never ping: a result gallery's text displays (unlike embeds) would turn an "@everyone"
or a role mention in a member's prompt into a notification."""
PAYLOAD_ERRORS = (400, 413)  # what was sent is wrong (e.g. 40005 file too large), not the route


@dataclass(frozen=True)
class Payload:
    """One rendering of a message. Files are bytes so the payload can be sent more than once."""

    embed: discord.Embed | None = None
    content: str | None = None
    files: Sequence[tuple[str, bytes]] = ()
    view: discord.ui.View | discord.ui.LayoutView | None = None
    """A LayoutView makes it a components-v2 message (no content, no embeds: an edit resets them)."""
    extra_embeds: Sequence[discord.Embed] = field(default=())

    def discord_files(self) -> list[discord.File]:
        return [discord.File(io.BytesIO(data), filename=name) for name, data in self.files]

    @property
    def embeds(self) -> list[discord.Embed]:
        return [e for e in (self.embed, *self.extra_embeds) if e is not None]


@dataclass
class _Token:
    interaction: discord.Interaction[Any]
    expires_at: float


class StatusMessages:
    """Finds and edits job status messages; the message ids are persisted on the job."""

    def __init__(
        self,
        client: discord.Client,
        engine: JobEngine,
        *,
        clock: Callable[[], float] = time.monotonic,
        token_seconds: float = TOKEN_SAFE_SECONDS,
        on_edit: Callable[[str], None] | None = None,
        pace: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        """``on_edit(job_id)`` hears when a command handler showed a job's first rendering, so the
        throttle spaces the next edit of that message from it. ``pace(channel_id)`` is awaited before
        a request through the channel route that the throttle has not already paid for: those share
        one budget per channel (edits through an interaction token have a bucket of their own)."""
        self._client = client
        self._engine = engine
        self._clock = clock
        self._token_seconds = token_seconds
        self._on_edit = on_edit or (lambda job_id: None)
        self._pace = pace
        self._tokens: dict[str, _Token] = {}
        self._refs: dict[str, MessageRef] = {}
        self._ready: dict[str, asyncio.Event] = {}
        self._upload_limits: dict[int, int] = {}
        self.requests = 0

    # --- registration ------------------------------------------------------------------------------

    def adopt(
        self, job_id: str, interaction: discord.Interaction[Any], message_id: int, channel_id: int
    ) -> None:
        """The interaction's original response is this job's status message."""
        self._tokens[job_id] = _Token(interaction, self._clock() + self._token_seconds)
        self._refs[job_id] = MessageRef(channel_id, message_id)
        self._upload_limits[channel_id] = interaction.filesize_limit
        self._event(job_id).set()
        self._on_edit(job_id)

    def upload_limit(self, channel_id: int) -> int | None:
        """The per-file upload limit Discord last gave for ``channel_id`` (with an interaction there)."""
        return self._upload_limits.get(channel_id)

    def lower_upload_limit(self, channel_id: int, limit: int) -> None:
        """Discord refused a file under what we believed was the limit: believe ``limit`` from now on."""
        known = self._upload_limits.get(channel_id)
        self._upload_limits[channel_id] = limit if known is None else min(known, limit)

    def _event(self, job_id: str) -> asyncio.Event:
        return self._ready.setdefault(job_id, asyncio.Event())

    async def persist(self, job_id: str) -> None:
        ref = self._refs.get(job_id)
        if ref is not None:
            await self._engine.jobs.update(job_id, status_message=ref)

    def known(self, job_id: str) -> bool:
        return job_id in self._refs

    def ref(self, job: Job) -> MessageRef | None:
        return self._refs.get(job.id) or job.status_message

    async def wait_ready(self, job: Job, timeout: float = 10.0) -> MessageRef | None:  # noqa: ASYNC109
        """Give a just-submitted job's command handler a moment to register its message."""
        if self.ref(job) is None:
            try:
                async with asyncio.timeout(timeout):
                    await self._event(job.id).wait()
            except TimeoutError:
                return None
        return self.ref(job)

    def forget(self, job_id: str) -> None:
        self._tokens.pop(job_id, None)
        self._refs.pop(job_id, None)
        self._ready.pop(job_id, None)

    # --- editing -------------------------------------------------------------------------------------

    async def _paced(self, channel_id: int, paid: bool) -> None:
        if self._pace is not None and not paid:
            await self._pace(channel_id)

    async def show(
        self, job: Job, payload: Payload, *, keep_attachments: bool = False, paid: bool = False
    ) -> MessageRef:
        """Make the job's status message show ``payload``; returns where it now lives. ``paid``: the
        caller already took this request out of the channel's budget."""
        ref = self.ref(job)
        attachments = None if keep_attachments else payload.discord_files()
        if ref is not None and ref.message_id is not None:
            token = self._tokens.get(job.id)
            if token is not None and self._clock() < token.expires_at:
                try:
                    self.requests += 1
                    await token.interaction.edit_original_response(**edit_args(payload, attachments))
                    return ref
                except discord.HTTPException as exc:
                    if exc.status in PAYLOAD_ERRORS:
                        raise  # the channel would refuse the same payload; the caller must change it
                    log.info("job=%s token edit failed (%s); using the channel", job.id, exc.code)
                    self._tokens.pop(job.id, None)
                    attachments = None if keep_attachments else payload.discord_files()
            else:
                self._tokens.pop(job.id, None)
            try:
                self.requests += 1
                message = self._client.get_partial_messageable(ref.channel_id).get_partial_message(
                    ref.message_id
                )
                await self._paced(ref.channel_id, paid)
                await message.edit(**edit_args(payload, attachments))
                return ref
            except discord.NotFound:
                log.info("job=%s status message was deleted; posting a new one", job.id)
        channel_id = ref.channel_id if ref is not None else job.channel_id
        return await self.post(job, channel_id, payload)

    async def post_plain(
        self, channel_id: int, content: str, files: Sequence[tuple[str, bytes]], *, nonce: str
    ) -> int:
        """A follow-up message (e.g. images 11-20 of a job); returns its id. Posting again with the
        same ``nonce`` within a few minutes returns the first message instead of a second one."""
        await self._paced(channel_id, paid=False)
        self.requests += 1
        message = await self._client.get_partial_messageable(channel_id).send(
            content=content, files=Payload(files=files).discord_files(), nonce=nonce
        )
        return message.id

    async def post(self, job: Job, channel_id: int, payload: Payload) -> MessageRef:
        """Post a new status message for ``job`` (its first, or one replacing a deleted one)."""
        await self._paced(channel_id, paid=False)
        self.requests += 1
        extra: dict[str, Any] = {} if payload.view is None else {"view": payload.view}
        # The send may land while its answer is lost (a crash, a timeout): the same nonce, derived from
        # the job and the message it replaces, makes Discord return that message instead of a second.
        previous = job.status_message.message_id if job.status_message else None
        message = await self._client.get_partial_messageable(channel_id).send(
            content=payload.content,
            embeds=payload.embeds,
            files=payload.discord_files(),
            nonce=message_nonce(job.id, f"status:{previous or 0}"),
            allowed_mentions=NO_MENTIONS,
            **extra,
        )
        ref = MessageRef(channel_id, message.id)
        self._refs[job.id] = ref
        self._event(job.id).set()
        await self._engine.jobs.update(job.id, status_message=ref)
        return ref


def message_nonce(job_id: str, purpose: str) -> str:
    """A nonce (at most 25 characters) that is the same every time one job posts one message."""
    return "cc" + hashlib.blake2s(f"{job_id}:{purpose}".encode(), digest_size=8).hexdigest()


def edit_args(payload: Payload, attachments: list[discord.File] | None) -> dict[str, Any]:
    """Edit keyword arguments; leaving ``attachments`` out keeps the message's current files."""
    args: dict[str, Any] = {
        "content": payload.content,
        "embeds": payload.embeds,
        "view": payload.view,
        "allowed_mentions": NO_MENTIONS,
    }
    if attachments is not None:
        args["attachments"] = attachments
    return args
