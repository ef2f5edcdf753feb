"""The fake's world: users, guilds, roles, members, channels, messages and attachments.

Objects are plain dataclasses holding Discord ids as strings (like the JSON API). Each knows how to
render itself as the payload discord.py 2.7.1 parses. Tests may read any attribute directly.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from .errors import UNKNOWN_CHANNEL, UNKNOWN_GUILD, UNKNOWN_USER, ApiError
from .permissions import ALL_PERMISSIONS, DEFAULT_EVERYONE, apply_overwrites
from .render import render_components, render_embeds

MiB = 1024 * 1024
_USER_MENTION = re.compile(r"<@!?([0-9]+)>")
DISCORD_EPOCH_MS = 1_420_070_400_000
DEFAULT_ATTACHMENT_SIZE_LIMIT = 10 * MiB

# Channel types used by the fake.
GUILD_TEXT = 0
DM = 1
GUILD_VOICE = 2
GUILD_CATEGORY = 4
GUILD_ANNOUNCEMENT = 5

# Message flags.
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_COMPONENTS_V2 = 1 << 15

# Message types.
MSG_DEFAULT = 0
MSG_REPLY = 19
MSG_CHAT_INPUT_COMMAND = 20


class Snowflakes:
    """Time-based, strictly increasing snowflake ids (as strings)."""

    def __init__(self) -> None:
        self._counter = itertools.count()

    def next(self) -> str:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return str((ms << 22) | (1 << 17) | (next(self._counter) & 0xFFF))


def iso_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def id_of(obj: Any) -> str:
    """Accepts a state object, a discord.py object (``.id``), an int or a str and returns the id string."""
    if isinstance(obj, str | int):
        return str(obj)
    return str(obj.id)


@dataclass(eq=False)
class User:
    id: str
    username: str
    global_name: str | None = None
    bot: bool = False
    dms_open: bool = True  #: False makes DMs from the bot fail with 50007

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "system": False,
            "flags": 0,
            "public_flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "collectibles": None,
            "primary_guild": None,
        }


@dataclass(eq=False)
class Role:
    id: str
    guild_id: str
    name: str
    permissions: int = 0
    position: int = 0
    color: int = 0
    hoist: bool = False
    mentionable: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": self.color,
            "colors": {"primary_color": self.color, "secondary_color": None, "tertiary_color": None},
            "hoist": self.hoist,
            "managed": False,
            "mentionable": self.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }


@dataclass(eq=False)
class Member:
    user: User
    guild_id: str
    roles: list[str] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)

    def payload(self, *, permissions: int | None = None, with_user: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "roles": list(self.roles),
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            out["user"] = self.user.payload()
        if permissions is not None:
            out["permissions"] = str(permissions)
        return out


@dataclass
class Overwrite:
    id: str
    type: int  #: 0 role, 1 member
    allow: int = 0
    deny: int = 0

    def payload(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "allow": str(self.allow), "deny": str(self.deny)}


@dataclass(eq=False)
class Channel:
    id: str
    name: str
    type: int = GUILD_TEXT
    guild_id: str | None = None
    position: int = 0
    nsfw: bool = False  #: an age-restricted channel
    topic: str | None = None
    parent_id: str | None = None
    rate_limit_per_user: int = 0
    overwrites: list[Overwrite] = field(default_factory=list)
    recipients: list[User] = field(default_factory=list)  #: DM channels only
    last_message_id: str | None = None

    @property
    def is_dm(self) -> bool:
        return self.type == DM

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    def payload(self, *, permissions: int | None = None) -> dict[str, Any]:
        if self.is_dm:
            return {
                "id": self.id,
                "type": DM,
                "last_message_id": self.last_message_id,
                "recipients": [u.payload() for u in self.recipients],
                "flags": 0,
            }
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "guild_id": self.guild_id,
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [o.payload() for o in self.overwrites],
            "nsfw": self.nsfw,
            "topic": self.topic,
            "parent_id": self.parent_id,
            "last_message_id": self.last_message_id,
            "rate_limit_per_user": self.rate_limit_per_user,
            "flags": 0,
        }
        if self.type == GUILD_VOICE:
            out.update(bitrate=64000, user_limit=0, rtc_region=None)
        if permissions is not None:
            out["permissions"] = str(permissions)
        return out


@dataclass(eq=False)
class Guild:
    id: str
    name: str
    owner_id: str
    attachment_size_limit: int = DEFAULT_ATTACHMENT_SIZE_LIMIT  #: per-file upload limit in this guild
    premium_tier: int = 0
    features: list[str] = field(default_factory=list)
    locale: str = "en-US"
    roles: dict[str, Role] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    def channel_named(self, name: str) -> Channel:
        for channel in self.channels.values():
            if channel.name == name:
                return channel
        raise KeyError(name)

    def create_payload(self, *, members: Iterable[Member]) -> dict[str, Any]:
        """The GUILD_CREATE payload (guild.py ``_from_data`` needs every list below to exist)."""
        member_list = list(members)
        return {
            "id": self.id,
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": self.owner_id,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": self.premium_tier,
            "premium_subscription_count": 0,
            "preferred_locale": self.locale,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "features": list(self.features),
            "roles": [r.payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "unavailable": False,
            "large": len(self.members) > 250,
            "member_count": len(self.members),
            "joined_at": iso_now(),
            "channels": [c.payload() for c in self.channels.values()],
            "members": [m.payload() for m in member_list],
            "threads": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def rest_payload(self) -> dict[str, Any]:
        """``GET /guilds/{id}`` (GuildWithCountsResponse): no gateway-only lists or state."""
        return {
            "id": self.id,
            "name": self.name,
            "icon": None,
            "description": None,
            "home_header": None,
            "splash": None,
            "discovery_splash": None,
            "features": list(self.features),
            "banner": None,
            "owner_id": self.owner_id,
            "application_id": None,
            "region": "deprecated",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "widget_enabled": False,
            "widget_channel_id": None,
            "verification_level": 0,
            "roles": [r.payload() for r in self.roles.values()],
            "default_message_notifications": 0,
            "mfa_level": 0,
            "explicit_content_filter": 0,
            "max_presences": None,
            "max_members": 25000000,
            "max_stage_video_channel_users": 50,
            "max_video_channel_users": 25,
            "vanity_url_code": None,
            "premium_tier": self.premium_tier,
            "premium_subscription_count": 0,
            "preferred_locale": self.locale,
            "rules_channel_id": None,
            "safety_alerts_channel_id": None,
            "public_updates_channel_id": None,
            "premium_progress_bar_enabled": False,
            "nsfw": False,
            "nsfw_level": 0,
            "emojis": [],
            "stickers": [],
            "incidents_data": None,
        }

    def partial_payload(self) -> dict[str, Any]:
        """The partial ``guild`` object sent inside interactions."""
        return {"id": self.id, "locale": self.locale, "features": list(self.features)}


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from an image's header (Pillow reads only the header here)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


@dataclass(eq=False)
class Attachment:
    id: str
    channel_id: str
    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None
    ephemeral: bool = False
    #: set by ``FakeDiscord.expire_attachment``: the CDN answers this status instead of the bytes
    expired_status: int | None = None
    #: monotonic time after which the CDN URL is expired (None: never)
    expires_at: float | None = None
    created_at: float = field(default_factory=time.monotonic)
    #: pixel size of an image, as Discord reports it (None for other files)
    dimensions: tuple[int, int] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.dimensions = _image_size(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def path(self) -> str:
        return f"/attachments/{self.channel_id}/{self.id}/{urllib.parse.quote(self.filename)}"

    def payload(self, cdn_base: str) -> dict[str, Any]:
        issued = int(time.time())
        query = f"?ex={issued + 86400:x}&is={issued:x}&hm={int(self.id) % 0xFFFFFFFF:08x}&"
        url = cdn_base + self.path() + query
        out: dict[str, Any] = {
            "id": self.id,
            "filename": self.filename,
            "size": self.size,
            "url": url,
            "proxy_url": url,
            "flags": 0,
        }
        if self.content_type:
            out["content_type"] = self.content_type
        if self.dimensions is not None:
            out["width"], out["height"] = self.dimensions
        if self.description is not None:
            out["description"] = self.description
        if self.ephemeral:
            out["ephemeral"] = True
        return out


@dataclass(eq=False)
class Message:
    id: str
    channel_id: str
    guild_id: str | None
    author: User
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    flags: int = 0
    type: int = MSG_DEFAULT
    tts: bool = False
    webhook_id: str | None = None
    application_id: str | None = None
    interaction_metadata: dict[str, Any] | None = None
    message_reference: dict[str, Any] | None = None
    nonce: str | None = None
    mentions: list[User] = field(default_factory=list)
    timestamp: str = field(default_factory=iso_now)
    edited_timestamp: str | None = None
    deleted: bool = False
    #: snapshots (content, embeds, components, attachment filenames, flags) taken before each edit
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        """True while this is an interaction's "Bot is thinking..." placeholder."""
        return bool(self.flags & FLAG_LOADING)

    @property
    def attachment_names(self) -> list[str]:
        return [a.filename for a in self.attachments]

    @property
    def edit_count(self) -> int:
        return len(self.history)

    def snapshot(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "embeds": list(self.embeds),
            "components": list(self.components),
            "attachments": self.attachment_names,
            "flags": self.flags,
        }

    def iter_components(self) -> Iterator[dict[str, Any]]:
        """All components, depth first (action rows, their children, v2 containers, accessories)."""
        stack = list(reversed(self.components))
        while stack:
            comp = stack.pop()
            yield comp
            children = list(comp.get("components") or [])
            if "component" in comp:
                children.append(comp["component"])
            if "accessory" in comp:
                children.append(comp["accessory"])
            stack.extend(reversed(children))

    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for c in self.iter_components() if "custom_id" in c]

    def find_component(self, custom_id: str) -> dict[str, Any] | None:
        return next((c for c in self.iter_components() if c.get("custom_id") == custom_id), None)

    def payload(self, cdn_base: str) -> dict[str, Any]:
        """The message as REST answers carry it (MessageResponse: no ``guild_id``, no ``member``)."""
        out: dict[str, Any] = {
            "id": self.id,
            "channel_id": self.channel_id,
            "type": self.type,
            "content": self.content,
            "author": self.author.payload(),
            "attachments": [a.payload(cdn_base) for a in self.attachments],
            "embeds": render_embeds(self.embeds, self.attachments, cdn_base),
            "components": render_components(self.components, self.attachments, cdn_base),
            "mentions": [u.payload() for u in self.mentions],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": self.tts,
            "timestamp": self.timestamp,
            "edited_timestamp": self.edited_timestamp,
            "flags": self.flags,
        }
        if self.webhook_id is not None:
            out["webhook_id"] = self.webhook_id
        if self.application_id is not None:
            out["application_id"] = self.application_id
        if self.interaction_metadata is not None:
            out["interaction_metadata"] = self.interaction_metadata
        if self.message_reference is not None:
            out["message_reference"] = self.message_reference
        if self.nonce is not None:
            out["nonce"] = self.nonce
        return out


class State:
    """Owns every object of the fake world and answers lookups the way the API does (404 codes)."""

    def __init__(self, snowflakes: Snowflakes, *, attachment_size_limit: int = DEFAULT_ATTACHMENT_SIZE_LIMIT):
        self.snowflakes = snowflakes
        #: message creates answered with an earlier message of the same nonce (enforce_nonce)
        self.nonce_replays = 0
        self.default_attachment_size_limit = attachment_size_limit
        self.users: dict[str, User] = {}
        self.guilds: dict[str, Guild] = {}
        self.channels: dict[str, Channel] = {}
        self.messages: dict[str, Message] = {}
        self.attachments: dict[str, Attachment] = {}

    # ------------------------------------------------------------------ construction
    def create_user(
        self, username: str, *, global_name: str | None = None, bot: bool = False, dms_open: bool = True
    ) -> User:
        user = User(self.snowflakes.next(), username, global_name, bot=bot, dms_open=dms_open)
        self.users[user.id] = user
        return user

    def create_guild(
        self,
        name: str,
        *,
        owner: User,
        attachment_size_limit: int | None = None,
        premium_tier: int = 0,
        features: Iterable[str] = (),
        everyone_permissions: int = DEFAULT_EVERYONE,
    ) -> Guild:
        gid = self.snowflakes.next()
        guild = Guild(
            gid,
            name,
            owner.id,
            attachment_size_limit=attachment_size_limit or self.default_attachment_size_limit,
            premium_tier=premium_tier,
            features=list(features),
        )
        guild.roles[gid] = Role(gid, gid, "@everyone", permissions=everyone_permissions)
        self.guilds[gid] = guild
        self.add_member(guild, owner)
        return guild

    def create_role(
        self, guild: Guild | str, name: str, *, permissions: int = 0, position: int | None = None
    ) -> Role:
        g = self.guild(guild)
        role = Role(self.snowflakes.next(), g.id, name, permissions=permissions)
        role.position = position if position is not None else len(g.roles)
        g.roles[role.id] = role
        return role

    def create_channel(
        self,
        guild: Guild | str,
        name: str,
        *,
        type: int = GUILD_TEXT,
        nsfw: bool = False,
        topic: str | None = None,
        parent: Channel | None = None,
    ) -> Channel:
        g = self.guild(guild)
        channel = Channel(
            self.snowflakes.next(),
            name,
            type=type,
            guild_id=g.id,
            position=len(g.channels),
            nsfw=nsfw,
            topic=topic,
            parent_id=parent.id if parent else None,
        )
        g.channels[channel.id] = channel
        self.channels[channel.id] = channel
        return channel

    def add_member(
        self,
        guild: Guild | str,
        user: User | str,
        *,
        roles: Iterable[Role | str] = (),
        nick: str | None = None,
    ) -> Member:
        g = self.guild(guild)
        u = self.user(user)
        member = Member(u, g.id, roles=[id_of(r) for r in roles], nick=nick)
        g.members[u.id] = member
        return member

    def set_overwrite(
        self, channel: Channel | str, target: Role | User | Member, *, allow: int = 0, deny: int = 0
    ) -> None:
        ch = self.channel(channel)
        if isinstance(target, Role):
            tid, ttype = target.id, 0
        else:
            tid, ttype = (target.user.id if isinstance(target, Member) else target.id), 1
        ch.overwrites = [o for o in ch.overwrites if o.id != tid]
        ch.overwrites.append(Overwrite(tid, ttype, allow=allow, deny=deny))

    def dm_channel(self, user: User | str) -> Channel:
        u = self.user(user)
        for channel in self.channels.values():
            if channel.is_dm and channel.recipients and channel.recipients[0].id == u.id:
                return channel
        channel = Channel(self.snowflakes.next(), "", type=DM, recipients=[u])
        self.channels[channel.id] = channel
        return channel

    def add_attachment(
        self,
        channel_id: str,
        filename: str,
        data: bytes,
        content_type: str | None = None,
        *,
        description: str | None = None,
        ephemeral: bool = False,
    ) -> Attachment:
        att = Attachment(
            self.snowflakes.next(),
            channel_id,
            filename,
            data,
            content_type,
            description=description,
            ephemeral=ephemeral,
        )
        self.attachments[att.id] = att
        return att

    def add_message(self, message: Message) -> Message:
        message.mentions = self.mentioned_users(message.content)
        self.messages[message.id] = message
        channel = self.channels.get(message.channel_id)
        if channel is not None and not message.ephemeral:
            channel.last_message_id = message.id
        return message

    def mentioned_users(self, content: str) -> list[User]:
        ids = dict.fromkeys(_USER_MENTION.findall(content or ""))
        return [self.users[uid] for uid in ids if uid in self.users]

    # ------------------------------------------------------------------ lookups (API-style errors)
    def user(self, user: User | Member | str | int) -> User:
        if isinstance(user, User):
            return user
        if isinstance(user, Member):
            return user.user
        try:
            return self.users[id_of(user)]
        except KeyError:
            raise ApiError.not_found(UNKNOWN_USER, "User") from None

    def guild(self, guild: Guild | str | int) -> Guild:
        if isinstance(guild, Guild):
            return guild
        try:
            return self.guilds[id_of(guild)]
        except KeyError:
            raise ApiError.not_found(UNKNOWN_GUILD, "Guild") from None

    def channel(self, channel: Channel | str | int) -> Channel:
        if isinstance(channel, Channel):
            return channel
        try:
            return self.channels[id_of(channel)]
        except KeyError:
            raise ApiError.not_found(UNKNOWN_CHANNEL, "Channel") from None

    def guild_of(self, channel: Channel) -> Guild | None:
        return self.guilds.get(channel.guild_id) if channel.guild_id else None

    def message(
        self, message_id: str, *, channel_id: str | None = None, include_ephemeral: bool = False
    ) -> Message:
        """A live message; deleted, foreign-channel or (unless asked) ephemeral ones are 10008."""
        msg = self.messages.get(message_id)
        if (
            msg is None
            or msg.deleted
            or (channel_id is not None and msg.channel_id != channel_id)
            or (msg.ephemeral and not include_ephemeral)
        ):
            raise ApiError.unknown_message()
        return msg

    def channel_messages(self, channel: Channel | str, *, include_deleted: bool = False) -> list[Message]:
        cid = id_of(channel)
        return [
            m for m in self.messages.values() if m.channel_id == cid and (include_deleted or not m.deleted)
        ]

    def attachment_size_limit(self, channel: Channel) -> int:
        guild = self.guild_of(channel)
        return guild.attachment_size_limit if guild else self.default_attachment_size_limit

    def permissions_for(self, user: User | str, channel: Channel) -> int:
        """Effective channel permissions of ``user`` (0 if not a member; all in DMs)."""
        guild = self.guild_of(channel)
        if guild is None:
            return ALL_PERMISSIONS
        uid = id_of(user)
        member = guild.members.get(uid)
        if member is None:
            return 0
        if guild.owner_id == uid:
            return ALL_PERMISSIONS
        base = guild.everyone.permissions
        for rid in member.roles:
            role = guild.roles.get(rid)
            if role is not None:
                base |= role.permissions
        by_id = {o.id: o for o in channel.overwrites}
        everyone = by_id.get(guild.id)
        member_ow = by_id.get(uid)
        return apply_overwrites(
            base,
            everyone=(everyone.allow, everyone.deny) if everyone else None,
            roles=[(by_id[r].allow, by_id[r].deny) for r in member.roles if r in by_id],
            member=(member_ow.allow, member_ow.deny) if member_ow and member_ow.type == 1 else None,
        )

    def member_payload(self, guild: Guild, user: User) -> dict[str, Any] | None:
        member = guild.members.get(user.id)
        return member.payload(with_user=False) if member else None
