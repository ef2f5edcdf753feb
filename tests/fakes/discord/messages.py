"""Creating and editing messages with Discord's validation and v10 attachment semantics.

Attachments (``resources/message`` "Uploading Files" / "Editing attachments"):

* new files arrive as multipart parts ``files[n]``; the JSON ``attachments`` array refers to them
  with ``{"id": n, "filename": ...}``;
* on edit, ``attachments`` lists everything the message keeps: existing attachments by their id and
  new uploads by index. Existing attachments left out are removed. Without ``attachments`` the
  existing ones are kept and new files are appended.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import CANNOT_SEND_EMPTY_MESSAGE, ApiError, FieldErrors
from .limits import MAX_ATTACHMENTS, validate_message_body
from .recording import RecordedFile
from .render import attachment_references
from .state import (
    FLAG_COMPONENTS_V2,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    FLAG_SUPPRESS_EMBEDS,
    MSG_REPLY,
    Attachment,
    Channel,
    Message,
    State,
    User,
    iso_now,
)

NONCE_WINDOW_SECONDS = 300  # Discord: "checked for uniqueness in the past few minutes"
_FILE_FIELD = re.compile(r"files\[(\d+)\]|file(\d*)")
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_VOICE_MESSAGE = 1 << 13
CHANNEL_MESSAGE_FLAGS = (
    FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_VOICE_MESSAGE | FLAG_COMPONENTS_V2
)
INTERACTION_MESSAGE_FLAGS = CHANNEL_MESSAGE_FLAGS | FLAG_EPHEMERAL
EDITABLE_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_COMPONENTS_V2


class MessageWriter:
    def __init__(self, state: State, cdn_base: Callable[[], str]) -> None:
        self.state = state
        self._cdn_base = cdn_base

    # ------------------------------------------------------------------ rendering
    def payload(self, message: Message) -> dict[str, Any]:
        """The REST shape (MessageResponse): what create/edit/fetch answers carry."""
        return message.payload(self._cdn_base())

    def gateway_payload(self, message: Message) -> dict[str, Any]:
        """MESSAGE_CREATE/UPDATE add the gateway-only ``guild_id`` and (for a member's message) ``member``."""
        out = message.payload(self._cdn_base())
        if message.guild_id is not None:
            out["guild_id"] = message.guild_id
            guild = self.state.guilds.get(message.guild_id)
            if guild is not None and message.webhook_id is None:
                member = self.state.member_payload(guild, message.author)
                if member is not None:
                    out["member"] = member
        return out

    # ------------------------------------------------------------------ create / edit
    def create(
        self,
        channel: Channel,
        body: dict[str, Any],
        files: list[RecordedFile],
        *,
        author: User,
        allowed_flags: int = CHANNEL_MESSAGE_FLAGS,
        extra_flags: int = 0,
        type: int = 0,
        webhook_id: str | None = None,
        application_id: str | None = None,
        interaction_metadata: dict[str, Any] | None = None,
        validate: bool = True,
    ) -> Message:
        """Validates ``body``/``files`` and stores a new message (raises :class:`ApiError`).

        With ``enforce_nonce``, a message the same author created in the channel with the same nonce in
        the last few minutes is returned instead of a new one, as Discord does.
        """
        if body.get("enforce_nonce") and body.get("nonce") is not None:
            earlier = self._same_nonce(channel, author, str(body["nonce"]))
            if earlier is not None:
                self.state.nonce_replays += 1
                return earlier
        flags = (int(body.get("flags") or 0) & allowed_flags) | extra_flags
        errors = FieldErrors()
        pending: list[Attachment | tuple[RecordedFile, dict[str, Any]]] = []
        if validate:
            self._check_sizes(channel, files)
            validate_message_body(body, errors)
            pending = self._plan_attachments(body, files, [], errors)
            _check_attachment_references(body, pending, errors)
            reference = self._check_reference(channel, body, errors)
            errors.raise_if_any()
            if not (
                body.get("content")
                or body.get("embeds")
                or body.get("components")
                or pending
                or body.get("sticker_ids")
                or body.get("poll")
            ):
                raise ApiError(400, CANNOT_SEND_EMPTY_MESSAGE, "Cannot send an empty message")
        else:
            reference = None
        message = Message(
            self.state.snowflakes.next(),
            channel.id,
            channel.guild_id,
            author,
            content=body.get("content") or "",
            embeds=list(body.get("embeds") or []),
            components=list(body.get("components") or []),
            flags=flags,
            type=MSG_REPLY if reference and type == 0 else type,
            tts=bool(body.get("tts")),
            webhook_id=webhook_id,
            application_id=application_id,
            interaction_metadata=interaction_metadata,
            message_reference=reference,
            nonce=body.get("nonce"),
        )
        message.attachments = self._materialize(channel, pending, ephemeral=message.ephemeral)
        return self.state.add_message(message)

    def _same_nonce(self, channel: Channel, author: User, nonce: str) -> Message | None:
        window = datetime.now(UTC) - timedelta(seconds=NONCE_WINDOW_SECONDS)
        for message in reversed(self.state.channel_messages(channel)):
            same = message.nonce == nonce and message.author.id == author.id
            if same and datetime.fromisoformat(message.timestamp) >= window:
                return message
        return None

    def edit(self, message: Message, body: dict[str, Any], files: list[RecordedFile]) -> Message:
        """Applies an edit body (content/embeds/components/flags/attachments) like Discord does."""
        channel = self.state.channel(message.channel_id)
        self._check_sizes(channel, files)
        new_flags = message.flags
        if body.get("flags") is not None:
            new_flags = (message.flags & ~EDITABLE_FLAGS) | (int(body["flags"]) & EDITABLE_FLAGS)
            new_flags |= message.flags & FLAG_COMPONENTS_V2  # cannot be removed once set
        errors = FieldErrors()
        validate_message_body({**body, "flags": new_flags}, errors)
        if new_flags & FLAG_COMPONENTS_V2:
            _check_legacy_fields_reset(message, body, errors)
        pending = self._plan_attachments(body, files, message.attachments, errors)
        _check_attachment_references(body, pending, errors)
        errors.raise_if_any()

        content = (body["content"] or "") if "content" in body else message.content
        embeds = list(body["embeds"] or []) if "embeds" in body else message.embeds
        components = list(body["components"] or []) if "components" in body else message.components
        if not (content or embeds or components or pending):
            raise ApiError(400, CANNOT_SEND_EMPTY_MESSAGE, "Cannot send an empty message")

        message.history.append(message.snapshot())
        message.content, message.embeds, message.components = content, embeds, components
        message.mentions = self.state.mentioned_users(content)
        message.flags = new_flags & ~FLAG_LOADING
        message.attachments = self._materialize(channel, pending, ephemeral=message.ephemeral)
        message.edited_timestamp = iso_now()
        return message

    # ------------------------------------------------------------------ helpers
    def _check_sizes(self, channel: Channel, files: list[RecordedFile]) -> None:
        limit = self.state.attachment_size_limit(channel)
        for f in files:
            if f.size > limit:
                raise ApiError.too_large()

    def _check_reference(
        self, channel: Channel, body: dict[str, Any], errors: FieldErrors
    ) -> dict[str, Any] | None:
        ref = body.get("message_reference")
        if not ref or not ref.get("message_id"):
            return None
        target = self.state.messages.get(str(ref["message_id"]))
        if target is None or target.deleted:
            if ref.get("fail_if_not_exists", True):
                errors.add(("message_reference",), "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
            return None
        return {
            "type": 0,
            "message_id": target.id,
            "channel_id": target.channel_id,
            "guild_id": target.guild_id,
        }

    def _plan_attachments(
        self,
        body: dict[str, Any],
        files: list[RecordedFile],
        existing: list[Attachment],
        errors: FieldErrors,
    ) -> list[Attachment | tuple[RecordedFile, dict[str, Any]]]:
        uploads: dict[str, RecordedFile] = {}
        for f in files:
            match = _FILE_FIELD.fullmatch(f.field)
            if match is None:
                errors.add(("files",), "UNKNOWN_FIELD", f"Unexpected multipart field {f.field!r}")
                continue
            uploads[match.group(1) or match.group(2) or "0"] = f
        plan: list[Attachment | tuple[RecordedFile, dict[str, Any]]]
        entries = body.get("attachments")
        if entries is None:
            plan = [*existing, *((f, {}) for f in uploads.values())]
        else:
            if len(entries) > MAX_ATTACHMENTS:
                errors.max_length(("attachments",), MAX_ATTACHMENTS)
            old = {a.id: a for a in existing}
            plan, used = [], set()
            for i, entry in enumerate(entries):
                aid = str(entry.get("id"))
                if aid in uploads and aid not in used:
                    used.add(aid)
                    plan.append((uploads[aid], entry))
                elif aid in old:
                    if "description" in entry:
                        old[aid].description = entry["description"]
                    plan.append(old[aid])
                else:
                    errors.add(
                        ("attachments", i, "id"),
                        "ATTACHMENT_NOT_FOUND",
                        f"Attachment {aid} is neither an uploaded files[n] index nor kept from this message",
                    )
            plan.extend((f, {}) for idx, f in uploads.items() if idx not in used)
        if len(plan) > MAX_ATTACHMENTS and not any(p[0] == "attachments" for p in errors.flat):
            errors.max_length(("attachments",), MAX_ATTACHMENTS)
        return plan

    def _materialize(
        self,
        channel: Channel,
        plan: list[Attachment | tuple[RecordedFile, dict[str, Any]]],
        *,
        ephemeral: bool,
    ) -> list[Attachment]:
        out = []
        for item in plan:
            if isinstance(item, Attachment):
                out.append(item)
                continue
            upload, entry = item
            out.append(
                self.state.add_attachment(
                    channel.id,
                    entry.get("filename") or upload.filename or "file",
                    upload.data,
                    _content_type(upload),
                    description=entry.get("description"),
                    ephemeral=ephemeral,
                )
            )
        return out


def _planned_name(item: Attachment | tuple[RecordedFile, dict[str, Any]]) -> str:
    if isinstance(item, Attachment):
        return item.filename
    upload, entry = item
    return entry.get("filename") or upload.filename or "file"


def _check_attachment_references(
    body: dict[str, Any], plan: list[Attachment | tuple[RecordedFile, dict[str, Any]]], errors: FieldErrors
) -> None:
    """``attachment://name`` in embeds and components must name a file of the message (resources/message,
    "Uploading Files": embeds can only use images uploaded with the message)."""
    names = {_planned_name(item) for item in plan}
    for path, name in attachment_references(body):
        if name not in names:
            errors.add(
                path,
                "ATTACHMENT_REFERENCE_NOT_FOUND",
                f"attachment://{name} names no file of this message (it has {sorted(names) or 'none'})",
            )


def _check_legacy_fields_reset(message: Message, body: dict[str, Any], errors: FieldErrors) -> None:
    """A message that is (or becomes) IS_COMPONENTS_V2 keeps no content or embeds: an edit that sets the
    flag must reset the ones the message has (``content: null``, ``embeds: []``), resources/message
    "Edit Message"; one that leaves them out would keep them, which Discord refuses with a 400."""
    kept_content = message.content and "content" not in body
    kept_embeds = message.embeds and "embeds" not in body
    if kept_content or kept_embeds:
        field = "content" if kept_content else "embeds"
        errors.add(
            (field,),
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            f"Setting IS_COMPONENTS_V2 requires resetting '{field}' (the message has some)",
        )


def _content_type(upload: RecordedFile) -> str | None:
    """Discord sniffs the type; discord.py always sends application/octet-stream, so guess by extension."""
    if upload.content_type and upload.content_type != "application/octet-stream":
        return upload.content_type
    name = (upload.filename or "").lower()
    for ext, ctype in (
        (".png", "image/png"),
        (".jpg", "image/jpeg"),
        (".jpeg", "image/jpeg"),
        (".webp", "image/webp"),
        (".gif", "image/gif"),
        (".mp4", "video/mp4"),
        (".webm", "video/webm"),
        (".mov", "video/quicktime"),
        (".flac", "audio/flac"),
        (".ogg", "audio/ogg"),
        (".mp3", "audio/mpeg"),
        (".wav", "audio/wav"),
        (".m4a", "audio/mp4"),
        (".json", "application/json; charset=utf-8"),
        (".txt", "text/plain; charset=utf-8"),
    ):
        if name.endswith(ext):
            return ctype
    return upload.content_type
