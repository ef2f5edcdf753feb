"""Permission bits and Discord's permission computation (base role permissions + channel overwrites)."""

from __future__ import annotations

import enum


class Permission(enum.IntFlag):
    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CONNECT = 1 << 20
    SPEAK = 1 << 21
    CHANGE_NICKNAME = 1 << 26
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    CREATE_PUBLIC_THREADS = 1 << 35
    SEND_MESSAGES_IN_THREADS = 1 << 38
    MODERATE_MEMBERS = 1 << 40


ALL_PERMISSIONS = (1 << 51) - 1

#: What a fresh server grants @everyone (close to Discord's default role permissions).
DEFAULT_EVERYONE = int(
    Permission.CREATE_INSTANT_INVITE
    | Permission.ADD_REACTIONS
    | Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.USE_EXTERNAL_EMOJIS
    | Permission.CONNECT
    | Permission.SPEAK
    | Permission.CHANGE_NICKNAME
    | Permission.USE_APPLICATION_COMMANDS
    | Permission.CREATE_PUBLIC_THREADS
    | Permission.SEND_MESSAGES_IN_THREADS
)

#: Permissions that depend on SEND_MESSAGES in a channel (Discord strips them when it is denied).
_SEND_DEPENDENT = int(
    Permission.SEND_TTS_MESSAGES
    | Permission.MENTION_EVERYONE
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
)


def apply_overwrites(
    base: int,
    *,
    everyone: tuple[int, int] | None,
    roles: list[tuple[int, int]],
    member: tuple[int, int] | None,
) -> int:
    """Applies (allow, deny) overwrites in Discord's order: @everyone, roles (aggregated), member."""
    if base & Permission.ADMINISTRATOR:
        return ALL_PERMISSIONS
    perms = base
    if everyone is not None:
        perms = (perms & ~everyone[1]) | everyone[0]
    deny = allow = 0
    for role_allow, role_deny in roles:
        allow |= role_allow
        deny |= role_deny
    perms = (perms & ~deny) | allow
    if member is not None:
        perms = (perms & ~member[1]) | member[0]
    if not perms & Permission.VIEW_CHANNEL:
        return 0
    if not perms & Permission.SEND_MESSAGES:
        perms &= ~_SEND_DEPENDENT
    return perms
