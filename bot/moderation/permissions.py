"""Who counts as a moderator, from plain permission bits and role ids (no discord import)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from bot.moderation.settings import GuildPolicy

ADMINISTRATOR: Final = 0x8
MANAGE_GUILD: Final = 0x20
MANAGE_MESSAGES: Final = 0x2000
MODERATOR_PERMISSIONS: Final = ADMINISTRATOR | MANAGE_GUILD | MANAGE_MESSAGES
"""Any one of these Discord permission bits makes a member a moderator."""


def is_moderator(permissions_bits: int, role_ids: Iterable[int], policy: GuildPolicy) -> bool:
    """Whether a member may moderate: a moderator permission, or one of the guild's moderator roles.

    ``permissions_bits`` are the member's resolved permissions (e.g. in the channel of the command).
    """
    if permissions_bits & MODERATOR_PERMISSIONS:
        return True
    return not policy.moderator_roles.isdisjoint(role_ids)
