"""The one access rule, as a table: who may do what with a job, from where."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.moderation.access import (
    MODERATORS_ONLY,
    Action,
    Actor,
    Allow,
    Deny,
    Place,
    Results,
    Subject,
    decide_access,
)
from bot.moderation.permissions import MANAGE_MESSAGES
from bot.moderation.settings import GuildPolicy

GUILD, OTHER_GUILD = 100, 200
OWNER, STRANGER, MOD, ROLE_MOD = 1, 2, 3, 4
MOD_ROLE = 77
POLICY = GuildPolicy(moderator_roles=frozenset({MOD_ROLE}))

owner = Actor(OWNER)
stranger = Actor(STRANGER)
moderator = Actor(MOD, permissions=MANAGE_MESSAGES)
role_moderator = Actor(ROLE_MOD, role_ids=frozenset({MOD_ROLE}))
banned_owner = replace(owner, banned=True)

here = Place(GUILD, 10)
nsfw_here = Place(GUILD, 11, nsfw=True)
elsewhere = Place(OTHER_GUILD, 20)
elsewhere_nsfw = Place(OTHER_GUILD, 21, nsfw=True)

delivered = Subject("JOBAAAAA", GUILD, OWNER, Results.DELIVERED)
delivered_nsfw = replace(delivered, made_in_nsfw=True)
held = replace(delivered, results=Results.HELD)
withheld = replace(delivered, results=Results.WITHHELD)
running = replace(delivered, results=Results.NONE, state_words="running")

ALL = list(Action)
MEMBER_ACTIONS = [a for a in Action if a is not Action.MODERATE]
CONTENT = [Action.SHOW, Action.REROLL, Action.EDIT, Action.FOLLOW_UP]

ALLOWED = Allow()
AS_MODERATOR = Allow(as_moderator=True)

# (actor, job, where, action, expected: Allow, or a piece of the Deny reason)
CASES: list[tuple[str, Actor, Subject, Place, Action, Allow | str]] = [
    # 1. the job's own server only, whoever asks and whatever for
    *[
        (f"other server {a}", who, delivered, elsewhere, a, "There is no job `JOBAAAAA` in this server.")
        for a in ALL
        for who in (owner, moderator)
    ],
    ("other server, age-restricted", owner, delivered_nsfw, elsewhere_nsfw, Action.SHOW, "no job"),
    # 2. moderating is for moderators of that server
    ("member moderates", owner, delivered, here, Action.MODERATE, MODERATORS_ONLY),
    ("stranger moderates", stranger, delivered, here, Action.MODERATE, MODERATORS_ONLY),
    ("moderator moderates", moderator, delivered, here, Action.MODERATE, AS_MODERATOR),
    ("role moderator moderates", role_moderator, delivered, here, Action.MODERATE, AS_MODERATOR),
    ("moderates a held job", moderator, held, here, Action.MODERATE, AS_MODERATOR),
    # 3. the owner, or a moderator
    *[(f"owner {a}", owner, delivered, here, a, ALLOWED) for a in MEMBER_ACTIONS],
    *[(f"moderator {a}", moderator, delivered, here, a, AS_MODERATOR) for a in MEMBER_ACTIONS],
    *[(f"role moderator {a}", role_moderator, delivered, here, a, AS_MODERATOR) for a in MEMBER_ACTIONS],
    ("stranger show", stranger, delivered, here, Action.SHOW, "Only the member who asked for job `JOBAAAAA`"),
    ("stranger reroll", stranger, delivered, here, Action.REROLL, "can re-roll it"),
    ("stranger edit", stranger, delivered, here, Action.EDIT, "can edit it"),
    ("stranger follow-up", stranger, delivered, here, Action.FOLLOW_UP, "can use its buttons"),
    ("stranger delete", stranger, delivered, here, Action.DELETE, "or a moderator can delete it"),
    ("stranger cancel", stranger, running, here, Action.CANCEL, "(or a moderator) can cancel it"),
    # 4. bans stop showing and starting, not tidying up
    *[(f"banned {a}", banned_owner, delivered, here, a, "You are banned") for a in CONTENT],
    ("banned delete", banned_owner, delivered, here, Action.DELETE, ALLOWED),
    ("banned cancel", banned_owner, running, here, Action.CANCEL, ALLOWED),
    # 5. results only while delivered
    *[
        (f"{who_name} show held", who, held, here, Action.SHOW, "waiting for a moderator to check it")
        for who_name, who in (("owner", owner), ("moderator", moderator))
    ],
    *[
        (f"{who_name} show withheld", who, withheld, here, Action.SHOW, "was withheld")
        for who_name, who in (("owner", owner), ("moderator", moderator))
    ],
    ("show running", owner, running, here, Action.SHOW, "Job `JOBAAAAA` has no results to show (running)."),
    ("follow-up held", owner, held, here, Action.FOLLOW_UP, "waiting for a moderator"),
    ("follow-up withheld", owner, withheld, here, Action.FOLLOW_UP, "was withheld"),
    ("reroll withheld", owner, withheld, here, Action.REROLL, ALLOWED),
    ("cancel running", owner, running, here, Action.CANCEL, ALLOWED),
    # 6. age-restricted results stay in age-restricted channels, for moderators too
    *[(f"nsfw {a} here", owner, delivered_nsfw, here, a, "stay in age-restricted channels") for a in CONTENT],
    ("nsfw moderator show", moderator, delivered_nsfw, here, Action.SHOW, "age-restricted"),
    *[(f"nsfw {a} in nsfw", owner, delivered_nsfw, nsfw_here, a, ALLOWED) for a in CONTENT],
    ("nsfw delete here", owner, delivered_nsfw, here, Action.DELETE, ALLOWED),
    ("plain show in nsfw", owner, delivered, nsfw_here, Action.SHOW, ALLOWED),
]


@pytest.mark.parametrize(
    ("actor", "job", "where", "action", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_rule(actor: Actor, job: Subject, where: Place, action: Action, expected: Allow | str) -> None:
    decision = decide_access(actor, job, where, action, POLICY)
    if isinstance(expected, Allow):
        assert decision == expected
    else:
        assert isinstance(decision, Deny)
        assert expected in decision.reason


def test_every_refusal_is_a_sentence_for_the_member() -> None:
    for _, actor, job, where, action, _ in CASES:
        decision = decide_access(actor, job, where, action, POLICY)
        if isinstance(decision, Deny):
            assert decision.reason.endswith("."), decision.reason
            assert decision.reason[0].isupper(), decision.reason


def test_anyone_can_reroll_opens_only_reroll() -> None:
    open_policy = {"anyone_can_reroll": True}
    assert decide_access(stranger, delivered, here, Action.REROLL, POLICY, **open_policy) == ALLOWED
    for action in (Action.EDIT, Action.FOLLOW_UP, Action.SHOW, Action.DELETE, Action.CANCEL):
        assert isinstance(decide_access(stranger, delivered, here, action, POLICY, **open_policy), Deny)
    banned = replace(stranger, banned=True)
    assert isinstance(decide_access(banned, delivered, here, Action.REROLL, POLICY, **open_policy), Deny)


def test_moderator_roles_come_from_the_jobs_server_policy() -> None:
    assert isinstance(decide_access(role_moderator, delivered, here, Action.MODERATE, GuildPolicy()), Deny)


def test_a_job_outside_any_server_is_only_its_owners() -> None:
    dm_job = replace(delivered, guild_id=None)
    dm = Place(None, 5)
    assert decide_access(owner, dm_job, dm, Action.SHOW, POLICY) == ALLOWED
    # Permission bits mean nothing outside a server.
    assert decide_access(moderator, dm_job, dm, Action.MODERATE, POLICY) == Deny(MODERATORS_ONLY)
    assert isinstance(decide_access(moderator, dm_job, dm, Action.SHOW, POLICY), Deny)
    assert isinstance(decide_access(owner, dm_job, here, Action.SHOW, POLICY), Deny)
