"""Who may manage templates: the bot's owners, and in a server the roles an owner allowed there.
Discord permissions (Administrator included) never let anyone in."""

from __future__ import annotations

import pytest

from bot.moderation.access import (
    OWNERS_ONLY,
    TEMPLATE_MANAGERS_ONLY,
    Actor,
    Allow,
    Deny,
    Place,
    TemplateAction,
    decide_template_access,
)
from bot.moderation.permissions import ADMINISTRATOR, MANAGE_GUILD

GUILD = Place(guild_id=1, channel_id=2)
DM = Place(guild_id=None, channel_id=3)
MANAGERS = frozenset({50})


@pytest.mark.parametrize("action", list(TemplateAction))
@pytest.mark.parametrize("where", [GUILD, DM])
def test_owners_may_do_everything_anywhere(action: TemplateAction, where: Place) -> None:
    owner = Actor(user_id=7, bot_owner=True)
    assert decide_template_access(owner, where, action, manager_roles=frozenset()) == Allow()


@pytest.mark.parametrize("permissions", [0, ADMINISTRATOR, MANAGE_GUILD, ADMINISTRATOR | MANAGE_GUILD])
def test_server_permissions_never_make_a_template_manager(permissions: int) -> None:
    admin = Actor(user_id=8, permissions=permissions, role_ids=frozenset({99}))
    assert decide_template_access(admin, GUILD, TemplateAction.MANAGE, manager_roles=MANAGERS) == Deny(
        TEMPLATE_MANAGERS_ONLY
    )
    assert decide_template_access(admin, GUILD, TemplateAction.GRANT, manager_roles=MANAGERS) == Deny(
        OWNERS_ONLY
    )


def test_an_allowed_role_manages_but_does_not_grant() -> None:
    helper = Actor(user_id=9, role_ids=frozenset({50, 51}))
    assert decide_template_access(helper, GUILD, TemplateAction.MANAGE, manager_roles=MANAGERS) == Allow()
    assert decide_template_access(helper, GUILD, TemplateAction.GRANT, manager_roles=MANAGERS) == Deny(
        OWNERS_ONLY
    )
    # roles belong to a server: outside one (a DM) they count for nothing
    assert isinstance(decide_template_access(helper, DM, TemplateAction.MANAGE, manager_roles=MANAGERS), Deny)


def test_a_banned_member_with_an_allowed_role_is_refused() -> None:
    banned = Actor(user_id=9, role_ids=frozenset({50}), banned=True)
    decision = decide_template_access(banned, GUILD, TemplateAction.MANAGE, manager_roles=MANAGERS)
    assert decision == Deny("You are banned from using the bot here.")
