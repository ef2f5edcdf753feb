"""is_moderator: permission bits or a configured moderator role."""

from __future__ import annotations

import pytest

from bot.moderation.permissions import ADMINISTRATOR, MANAGE_GUILD, MANAGE_MESSAGES, is_moderator
from bot.moderation.settings import GuildPolicy

SEND_MESSAGES, KICK_MEMBERS, MANAGE_ROLES = 0x800, 0x2, 0x10000000


@pytest.mark.parametrize(
    "bits", [ADMINISTRATOR, MANAGE_GUILD, MANAGE_MESSAGES, MANAGE_MESSAGES | SEND_MESSAGES]
)
def test_moderator_permissions(bits: int) -> None:
    assert is_moderator(bits, [], GuildPolicy())


@pytest.mark.parametrize("bits", [0, SEND_MESSAGES, KICK_MEMBERS, MANAGE_ROLES])
def test_other_permissions_are_not_enough(bits: int) -> None:
    assert not is_moderator(bits, [1, 2], GuildPolicy())


def test_a_moderator_role() -> None:
    policy = GuildPolicy(moderator_roles=frozenset({7}))
    assert is_moderator(SEND_MESSAGES, [1, 7], policy)
    assert is_moderator(0, iter([7]), policy)
    assert not is_moderator(SEND_MESSAGES, [1, 2], policy)


def test_the_bits_are_discords() -> None:
    assert (ADMINISTRATOR, MANAGE_GUILD, MANAGE_MESSAGES) == (1 << 3, 1 << 5, 1 << 13)
