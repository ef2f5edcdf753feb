"""Who may see, show, act on or moderate a job: one rule, written once, for every path.

``decide_access`` is a pure function of plain ids and flags. The Discord layer calls it from the slash
commands (``/show``, ``/cancel``, ``/mod cancel``), every button (Cancel, Re-roll, Edit, Delete,
follow-ups such as Upscale, the review lane's Approve/Reject/Ban and Release/Discard) and every form
(Edit, Reject, Reject and ban), so a new path asks the same question instead of writing its own
checks. The rule runs in a fixed order and the first refusal wins:

1. the job belongs to the server the request comes from (a job of another server is "not here");
2. moderating (review decisions, held results, ``/mod`` on a job) is for that server's moderators;
3. the member's own job, or a moderator (Re-roll may be opened to everyone by the bot's options);
4. a banned member may not show or start anything (deleting or cancelling their own is fine);
5. results only while they are delivered: never while a moderator checks them, never once withheld;
6. results made in an age-restricted channel stay in age-restricted channels, for moderators too.

Templates themselves (``/template``: add, check, try, publish, edit, retire, restore) have a rule of
their own, ``decide_template_access``, asked by every ``/template`` command and its autocomplete: the
bot's owners (OWNER_IDS), and in a server the roles an owner allowed there. Discord's
``default_member_permissions`` only decides who sees the command; nothing here reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from bot.moderation.permissions import is_moderator
from bot.moderation.settings import GuildPolicy


class Action(StrEnum):
    """What someone wants to do with a job."""

    SHOW = "show"
    """Post the job's results again (``/show``)."""
    REROLL = "reroll"
    """Run the job again with a new seed."""
    EDIT = "edit"
    """Run the job again with changed text."""
    FOLLOW_UP = "follow_up"
    """Run a template's follow-up (e.g. Upscale) on the job's result."""
    DELETE = "delete"
    """Delete a message that shows the job."""
    CANCEL = "cancel"
    """Stop the job."""
    MODERATE = "moderate"
    """Decide on the job as a moderator: review, held results, ``/mod cancel``."""


class Results(StrEnum):
    """Where a job's results are, as far as showing them goes."""

    NONE = "none"
    """No results (yet, or ever): waiting, running, failed, cancelled, rejected."""
    DELIVERED = "delivered"
    """Posted for the member."""
    HELD = "held"
    """Waiting for a moderator to check them."""
    WITHHELD = "withheld"
    """Not posted, and never will be: the image checker or a moderator withheld them."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: resolved permission bits (in the channel of the request) and role ids."""

    user_id: int
    permissions: int = 0
    role_ids: frozenset[int] = frozenset()
    banned: bool = False
    """An active ban in the server of the request."""
    bot_owner: bool = False
    """One of the bot's owners (OWNER_IDS, else the application's owner)."""


@dataclass(frozen=True, slots=True)
class Place:
    """Where the request comes from."""

    guild_id: int | None
    channel_id: int
    nsfw: bool = False
    """The channel is age-restricted."""


@dataclass(frozen=True, slots=True)
class Subject:
    """The job, as the rule sees it."""

    job_id: str
    guild_id: int | None
    owner_id: int
    results: Results = Results.NONE
    made_in_nsfw: bool = False
    """The job was made in an age-restricted channel (its results were never screened)."""
    state_words: str = ""
    """The job's state in a few words, for a refusal ("running", "failed")."""


@dataclass(frozen=True, slots=True)
class Allow:
    """Go ahead; ``as_moderator``: only because the actor moderates the job's server."""

    as_moderator: bool = False


@dataclass(frozen=True, slots=True)
class Deny:
    """Refused, with the sentence the actor reads."""

    reason: str


Access = Allow | Deny

MODERATORS_ONLY: Final = (
    "Only moderators can do this: members with Manage Messages, Manage Server or Administrator, "
    "or one of the roles in the `moderator_roles` setting."
)
_OWNER_ONLY: Final[Mapping[Action, str]] = {
    Action.SHOW: "Only the member who asked for job `{job}` (or a moderator) can show its results.",
    Action.REROLL: "Only the member who asked for this image can re-roll it.",
    Action.EDIT: "Only the member who asked for this image can edit it.",
    Action.FOLLOW_UP: "Only the member who asked for this image can use its buttons.",
    Action.DELETE: "Only the member who asked for this image or a moderator can delete it.",
    Action.CANCEL: "Only the member who asked for this job (or a moderator) can cancel it.",
}
_MAKES_CONTENT: Final = frozenset({Action.SHOW, Action.REROLL, Action.EDIT, Action.FOLLOW_UP})
"""Actions that post the job's results or start a job from them."""
_NEEDS_RESULTS: Final = frozenset({Action.SHOW, Action.FOLLOW_UP})


def decide_access(
    actor: Actor,
    job: Subject,
    where: Place,
    action: Action,
    policy: GuildPolicy,
    *,
    anyone_can_reroll: bool = False,
) -> Access:
    """May ``actor``, in ``where``, do ``action`` with ``job``? ``policy`` is the job's server's."""
    if job.guild_id != where.guild_id:
        return Deny(f"There is no job `{job.job_id}` in this server.")
    moderator = where.guild_id is not None and is_moderator(actor.permissions, actor.role_ids, policy)
    if action is Action.MODERATE:
        return Allow(as_moderator=True) if moderator else Deny(MODERATORS_ONLY)
    owner = actor.user_id == job.owner_id
    if not (owner or moderator or (action is Action.REROLL and anyone_can_reroll)):
        return Deny(_OWNER_ONLY[action].format(job=job.job_id))
    if action in _MAKES_CONTENT and actor.banned:
        return Deny("You are banned from using the bot here.")
    if action in _NEEDS_RESULTS:
        refusal = _results_refusal(job)
        if refusal is not None:
            return Deny(refusal)
    if action in _MAKES_CONTENT and job.made_in_nsfw and not where.nsfw:
        return Deny(
            f"Job `{job.job_id}` was made in an age-restricted channel, so its images and anything "
            "made from them stay in age-restricted channels."
        )
    return Allow(as_moderator=moderator and not owner)


def _results_refusal(job: Subject) -> str | None:
    if job.results is Results.DELIVERED:
        return None
    if job.results is Results.HELD:
        return f"The result of job `{job.job_id}` is waiting for a moderator to check it."
    if job.results is Results.WITHHELD:
        return f"The result of job `{job.job_id}` was withheld, so it can't be shown."
    words = f" ({job.state_words})" if job.state_words else ""
    return f"Job `{job.job_id}` has no results to show{words}."


class TemplateAction(StrEnum):
    """What someone wants to do with the bot's templates."""

    MANAGE = "manage"
    """Add, check, try, publish, show, edit, retire or restore templates."""
    GRANT = "grant"
    """Choose which roles may manage templates (``/template allow`` and ``disallow``)."""


OWNERS_ONLY: Final = "Only the bot's owners can choose who manages templates."
TEMPLATE_MANAGERS_ONLY: Final = (
    "Only the bot's owners and the roles they allow (`/template allow`) can manage templates."
)


def decide_template_access(
    actor: Actor, where: Place, action: TemplateAction, *, manager_roles: frozenset[int]
) -> Access:
    """May ``actor``, in ``where``, do ``action``? ``manager_roles``: the roles an owner allowed in
    ``where``'s server. Owners may do everything; an allowed role may manage but not grant, and not
    while banned from the bot there."""
    if actor.bot_owner:
        return Allow()
    if action is TemplateAction.GRANT:
        return Deny(OWNERS_ONLY)
    if where.guild_id is None or manager_roles.isdisjoint(actor.role_ids):
        return Deny(TEMPLATE_MANAGERS_ONLY)
    if actor.banned:
        return Deny("You are banned from using the bot here.")
    return Allow()
