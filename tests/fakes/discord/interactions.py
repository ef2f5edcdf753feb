"""INTERACTION_CREATE payloads (slash commands, autocomplete, components, modals) and their tracking.

Payload shapes follow interactions/receiving-and-responding in the Discord docs and what discord.py
2.7.1 reads (``interactions.py`` ``_from_data``: ``attachment_size_limit``, ``version``, ``token``,
``application_id`` and ``id`` are required; ``app_commands/namespace.py`` for options and ``resolved``).

An :class:`InteractionRecord` is returned to the test for every interaction. ``await record`` waits
until the bot acknowledged it; the record then tells how (defer, message, modal, autocomplete choices).
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .limits import (
    ATTACHMENT,
    BOOLEAN,
    CHANNEL,
    CHOICE_TYPES,
    INTEGER,
    MENTIONABLE,
    NUMBER,
    ROLE,
    SELECT_TYPES,
    STRING,
    SUBCOMMAND,
    SUBCOMMAND_GROUP,
    TEXT_INPUT,
    USER,
)
from .state import Attachment, Channel, Member, Message, Role, Snowflakes, State, User

# Interaction types.
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

# Interaction callback types.
CHANNEL_MESSAGE_WITH_SOURCE = 4
DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9

#: Which callback types Discord accepts for each interaction type.
ALLOWED_CALLBACKS: dict[int, frozenset[int]] = {
    APPLICATION_COMMAND: frozenset({4, 5, 9}),
    MESSAGE_COMPONENT: frozenset({4, 5, 6, 7, 9}),
    AUTOCOMPLETE: frozenset({8}),
    MODAL_SUBMIT: frozenset({4, 5, 6, 7}),
}

#: A file attached to a slash command option: (filename, data, content_type)
AttachmentSpec = tuple[str, bytes, str | None]


@dataclass(eq=False)
class InteractionRecord:
    """One interaction sent to the bot, and everything the bot did with it."""

    id: str
    token: str
    type: int
    payload: dict[str, Any] = field(repr=False)  #: the INTERACTION_CREATE ``d`` object
    channel_id: str
    guild_id: str | None
    user: User
    state: State = field(repr=False)
    created_at: float = field(default_factory=time.monotonic)
    message_id: str | None = None  #: the message a clicked component is on
    response_type: int | None = None  #: callback type of the acknowledgement
    response: dict[str, Any] | None = field(default=None, repr=False)  #: the callback body
    responded_at: float | None = None
    original_message_id: str | None = None
    followup_ids: list[str] = field(default_factory=list)
    choices: list[dict[str, Any]] | None = None  #: autocomplete result
    modal: dict[str, Any] | None = None  #: modal the bot opened (callback type 9 data)
    failures: list[tuple[int, int]] = field(default_factory=list)  #: rejected callbacks (status, code)
    #: for a modal submit: the interaction whose answer opened the modal
    triggered_by: InteractionRecord | None = field(default=None, repr=False)
    _acked: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def name(self) -> str | None:
        """Command name (slash/autocomplete) or custom_id (component/modal)."""
        data = self.payload.get("data") or {}
        return data.get("name") or data.get("custom_id")

    @property
    def acknowledged(self) -> bool:
        return self.response_type is not None

    @property
    def deferred(self) -> bool:
        return self.response_type in (DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE, DEFERRED_UPDATE_MESSAGE)

    @property
    def ack_latency(self) -> float | None:
        return None if self.responded_at is None else self.responded_at - self.created_at

    @property
    def original_message(self) -> Message | None:
        return self.state.messages.get(self.original_message_id) if self.original_message_id else None

    @property
    def followups(self) -> list[Message]:
        return [self.state.messages[mid] for mid in self.followup_ids]

    def mark_acknowledged(self, callback_type: int, body: dict[str, Any], at: float) -> None:
        self.response_type = callback_type
        self.response = body
        self.responded_at = at
        self._acked.set()

    async def wait_acknowledged(self, timeout: float = 5.0) -> InteractionRecord:
        try:
            await asyncio.wait_for(self._acked.wait(), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"interaction {self.name!r} not acknowledged within {timeout}s (failures: {self.failures})"
            ) from None
        return self

    def __await__(self) -> Any:
        return self.wait_acknowledged().__await__()


class InteractionFactory:
    """Builds INTERACTION_CREATE payloads from the state and keeps the records by token."""

    def __init__(
        self,
        state: State,
        snowflakes: Snowflakes,
        *,
        application_id: str,
        bot_user: User,
        cdn_base: Callable[[], str],
    ) -> None:
        self.state = state
        self.snowflakes = snowflakes
        self.application_id = application_id
        self.bot_user = bot_user
        self._cdn_base = cdn_base
        self.records: list[InteractionRecord] = []
        self.by_token: dict[str, InteractionRecord] = {}

    # ------------------------------------------------------------------ common part
    def _base(self, itype: int, channel: Channel, user: User) -> dict[str, Any]:
        interaction_id = self.snowflakes.next()
        # Shaped like Discord's: base64url of "interaction:<id>:<secret>", so redaction meets real ones.
        secret = f"interaction:{interaction_id}:{secrets.token_urlsafe(64)}"
        payload: dict[str, Any] = {
            "id": interaction_id,
            "application_id": self.application_id,
            "type": itype,
            "token": base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
            "version": 1,
            "channel_id": channel.id,
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": self.state.attachment_size_limit(channel),
            "app_permissions": str(self.state.permissions_for(self.bot_user, channel)),
        }
        guild = self.state.guild_of(channel)
        if guild is None:
            payload.update(
                channel=channel.payload(),
                user=user.payload(),
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
            return payload
        member = guild.members.get(user.id)
        if member is None:
            raise ValueError(f"{user.username!r} is not a member of guild {guild.name!r}; add_member() first")
        perms = self.state.permissions_for(user, channel)
        payload.update(
            guild_id=guild.id,
            guild=guild.partial_payload(),
            guild_locale=guild.locale,
            channel=channel.payload(permissions=perms),
            member=member.payload(permissions=perms),
            authorizing_integration_owners={"0": guild.id},
            context=0,
        )
        return payload

    def _record(
        self, payload: dict[str, Any], channel: Channel, user: User, message_id: str | None = None
    ) -> InteractionRecord:
        rec = InteractionRecord(
            id=payload["id"],
            token=payload["token"],
            type=payload["type"],
            payload=payload,
            channel_id=channel.id,
            guild_id=channel.guild_id,
            user=user,
            state=self.state,
            message_id=message_id,
        )
        self.records.append(rec)
        self.by_token[rec.token] = rec
        return rec

    # ------------------------------------------------------------------ application commands
    def application_command(
        self,
        command: dict[str, Any] | None,
        path: list[str],
        options: Mapping[str, Any] | Sequence[dict[str, Any]] | None,
        *,
        channel: Channel,
        user: User,
        attachments: Sequence[AttachmentSpec] | Mapping[str, AttachmentSpec] | None,
        focused: str | None = None,
    ) -> InteractionRecord:
        """Slash command (``focused is None``) or autocomplete request for ``path`` ("cmd [group] sub")."""
        itype = AUTOCOMPLETE if focused is not None else APPLICATION_COMMAND
        payload = self._base(itype, channel, user)
        defs: list[dict[str, Any]] | None = command.get("options", []) if command else None
        nesting: list[tuple[str, int]] = []
        for part in path[1:]:
            sub = next((o for o in defs or [] if o["name"] == part), None) if defs is not None else None
            if defs is not None and sub is None:
                raise ValueError(f"/{' '.join(path)}: no sub-command {part!r}")
            kind = sub["type"] if sub else (SUBCOMMAND if part == path[-1] else SUBCOMMAND_GROUP)
            nesting.append((part, kind))
            defs = sub.get("options", []) if sub else None
        resolved: dict[str, dict[str, Any]] = {}
        leaf = self._options(defs, options, attachments, resolved, channel, focused=focused, path=path)
        for part, kind in reversed(nesting):
            leaf = [{"name": part, "type": kind, "options": leaf}]
        data: dict[str, Any] = {
            "id": command["id"] if command else self.snowflakes.next(),
            "name": path[0],
            "type": 1,
            "options": leaf,
        }
        if command and command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        if resolved:
            data["resolved"] = resolved
        payload["data"] = data
        return self._record(payload, channel, user)

    def _options(
        self,
        defs: list[dict[str, Any]] | None,
        given: Mapping[str, Any] | Sequence[dict[str, Any]] | None,
        attachments: Sequence[AttachmentSpec] | Mapping[str, AttachmentSpec] | None,
        resolved: dict[str, dict[str, Any]],
        channel: Channel,
        *,
        focused: str | None,
        path: list[str],
    ) -> list[dict[str, Any]]:
        where = "/" + " ".join(path)
        raw: list[dict[str, Any]] = []
        values: dict[str, Any] = {}
        if isinstance(given, Mapping):
            values.update(given)
        elif given is not None:
            raw = [dict(o) for o in given]  # escape hatch: options exactly as given
        if isinstance(attachments, Mapping):
            values.update(attachments)
        elif attachments:
            free = [d["name"] for d in defs or [] if d["type"] == ATTACHMENT and d["name"] not in values]
            if len(free) < len(attachments):
                raise ValueError(f"{where}: {len(attachments)} attachments but attachment options {free}")
            values.update(zip(free, attachments, strict=False))
        by_name = {d["name"]: d for d in defs or []}
        out = []
        for name, value in values.items():
            definition = by_name.get(name)
            if defs is not None and definition is None:
                raise ValueError(f"{where} has no option {name!r} (options: {sorted(by_name)})")
            otype = definition["type"] if definition else _infer_type(value)
            option: dict[str, Any] = {"name": name, "type": otype}
            if name == focused:
                option.update(value=value, focused=True)
            else:
                option["value"] = self._option_value(otype, value, resolved, channel)
                if definition is not None and focused is None:
                    _check_option(definition, option["value"], where)
            out.append(option)
        if defs is not None and focused is None:
            missing = [d["name"] for d in defs if d.get("required") and d["name"] not in values]
            if missing:
                raise ValueError(f"{where}: required options missing: {missing}")
            order = {d["name"]: i for i, d in enumerate(defs)}
            out.sort(key=lambda o: order[o["name"]])
        return raw + out

    def _option_value(
        self, otype: int, value: Any, resolved: dict[str, dict[str, Any]], channel: Channel
    ) -> Any:
        if otype == ATTACHMENT:
            att = value if isinstance(value, Attachment) else self.state.add_attachment(channel.id, *value)
            resolved.setdefault("attachments", {})[att.id] = att.payload(self._cdn_base())
            return att.id
        if otype in (USER, MENTIONABLE) and isinstance(value, User | Member):
            user = value.user if isinstance(value, Member) else value
            resolved.setdefault("users", {})[user.id] = user.payload()
            guild = self.state.guild_of(channel)
            member = guild.members.get(user.id) if guild else None
            if member is not None:
                perms = self.state.permissions_for(user, channel)
                resolved.setdefault("members", {})[user.id] = member.payload(
                    permissions=perms, with_user=False
                )
            return user.id
        if otype in (ROLE, MENTIONABLE) and isinstance(value, Role):
            resolved.setdefault("roles", {})[value.id] = value.payload()
            return value.id
        if otype == CHANNEL and isinstance(value, Channel):
            perms = self.state.permissions_for(self.bot_user, value)
            resolved.setdefault("channels", {})[value.id] = {
                "id": value.id,
                "type": value.type,
                "name": value.name,
                "permissions": str(perms),
                "parent_id": value.parent_id,
                "nsfw": value.nsfw,
                "flags": 0,
            }
            return value.id
        converters: dict[int, Callable[[Any], Any]] = {
            STRING: str,
            INTEGER: int,
            BOOLEAN: bool,
            NUMBER: float,
        }
        return converters[otype](value) if otype in converters else str(value)

    # ------------------------------------------------------------------ components and modals
    def component(
        self, message: Message, component: dict[str, Any], *, user: User, values: list[str] | None = None
    ) -> InteractionRecord:
        channel = self.state.channel(message.channel_id)
        payload = self._base(MESSAGE_COMPONENT, channel, user)
        payload["message"] = message.payload(self._cdn_base())
        data: dict[str, Any] = {"custom_id": component["custom_id"], "component_type": component["type"]}
        if component["type"] in SELECT_TYPES:
            data["values"] = list(values or [])
        payload["data"] = data
        return self._record(payload, channel, user, message_id=message.id)

    def modal_submit(
        self,
        custom_id: str,
        fields: Mapping[str, Any],
        *,
        channel: Channel,
        user: User,
        definition: list[dict[str, Any]] | None,
        message: Message | None,
    ) -> InteractionRecord:
        payload = self._base(MODAL_SUBMIT, channel, user)
        if message is not None:
            payload["message"] = message.payload(self._cdn_base())
        payload["data"] = {"custom_id": custom_id, "components": modal_components(definition, fields)}
        return self._record(payload, channel, user, message_id=message.id if message else None)


def _infer_type(value: Any) -> int:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return NUMBER
    if isinstance(value, tuple | Attachment):
        return ATTACHMENT
    if isinstance(value, User | Member):
        return USER
    if isinstance(value, Channel):
        return CHANNEL
    if isinstance(value, Role):
        return ROLE
    return STRING


def _check_option(definition: dict[str, Any], value: Any, where: str) -> None:
    """What Discord's client enforces before a user can send the command."""
    name = definition["name"]
    choices = definition.get("choices")
    if choices and definition["type"] in CHOICE_TYPES and value not in [c["value"] for c in choices]:
        raise ValueError(
            f"{where}: {name}={value!r} is not one of the choices {[c['value'] for c in choices]}"
        )
    if "min_value" in definition and value < definition["min_value"]:
        raise ValueError(f"{where}: {name}={value!r} is below min_value {definition['min_value']}")
    if "max_value" in definition and value > definition["max_value"]:
        raise ValueError(f"{where}: {name}={value!r} is above max_value {definition['max_value']}")
    if "min_length" in definition and len(value) < definition["min_length"]:
        raise ValueError(f"{where}: {name} is shorter than min_length {definition['min_length']}")
    if "max_length" in definition and len(value) > definition["max_length"]:
        raise ValueError(f"{where}: {name} is longer than max_length {definition['max_length']}")


def modal_components(
    definition: list[dict[str, Any]] | None, fields: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The submitted ``components``: the layout of the modal the bot opened, filled with ``fields``."""
    if definition is None:
        return [
            {"type": 1, "components": [{"type": TEXT_INPUT, "custom_id": key, "value": value}]}
            for key, value in fields.items()
        ]
    used: set[str] = set()

    def convert(comp: dict[str, Any]) -> dict[str, Any]:
        ctype = comp["type"]
        out: dict[str, Any] = {"type": ctype}
        if "id" in comp:
            out["id"] = comp["id"]
        if ctype == 1:
            out["components"] = [convert(c) for c in comp.get("components", [])]
        elif ctype == 18:  # label wrapping one component
            out["component"] = convert(comp["component"])
        elif ctype == 10:  # text display
            out["content"] = comp.get("content", "")
        else:
            custom_id = comp.get("custom_id", "")
            out["custom_id"] = custom_id
            used.add(custom_id)
            value = fields.get(custom_id)
            if ctype == TEXT_INPUT:
                text = "" if value is None else str(value)
                if comp.get("required", True) and not text:
                    raise ValueError(f"modal field {custom_id!r} is required")
                if not comp.get("min_length", 0) <= len(text) <= comp.get("max_length", 4000) and text:
                    raise ValueError(f"modal field {custom_id!r} length {len(text)} outside min/max_length")
                out["value"] = text
            elif ctype == 23:  # checkbox
                out["value"] = bool(value)
            elif ctype == 21:  # radio group
                out["value"] = value
            else:  # selects, checkbox groups, file uploads
                out["values"] = list(value or [])
        return out

    converted = [convert(c) for c in definition]
    unknown = set(fields) - used
    if unknown:
        raise ValueError(f"modal has no fields {sorted(unknown)} (fields: {sorted(used)})")
    return converted
