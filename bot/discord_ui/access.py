"""The one access rule (``bot.moderation.access``), asked with what an interaction says.

Every command, button and form that touches a job calls ``JobAccess.require`` before acting: the
rule itself is pure and lives in the moderation package; this module only reads the facts it needs
from the interaction (who, with which permissions and roles, in which channel), the job (whose, which
server, where its results are) and the database (the server's moderator roles, the member's ban).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

import discord

from bot.discord_ui.render import STATE_WORDS
from bot.errors import BotError
from bot.jobmodel.model import Job
from bot.jobmodel.states import JobState
from bot.moderation import GuildPolicy, ModerationService
from bot.moderation.access import (
    Action,
    Actor,
    Allow,
    Deny,
    Place,
    Results,
    Subject,
    TemplateAction,
    decide_access,
    decide_template_access,
)
from bot.storage import TemplateManagerRepository

log = logging.getLogger(__name__)

RESULTS: Final = {
    JobState.DELIVERED: Results.DELIVERED,
    JobState.HELD: Results.HELD,
    JobState.WITHHELD: Results.WITHHELD,
}
"""Where a job's results are, by its state (any other state: none to show)."""


class AccessDenied(BotError):
    """The access rule refused; ``user_message`` says why."""


def role_ids(user: object) -> frozenset[int]:
    """The role ids of a member (none for a plain user)."""
    return frozenset(r.id for r in getattr(user, "roles", ()))


def channel_is_nsfw(channel: object) -> bool:
    """Whether a channel (or a thread, through its parent) is age-restricted; False if unknown."""
    is_nsfw = getattr(channel, "is_nsfw", None)
    return bool(callable(is_nsfw) and is_nsfw())


def place_of(interaction: discord.Interaction[Any]) -> Place:
    """Where an interaction comes from."""
    return Place(interaction.guild_id, interaction.channel_id or 0, channel_is_nsfw(interaction.channel))


def subject_of(job: Job, client: discord.Client | None = None) -> Subject:
    """The job as the rule sees it. Jobs stored before ``age_restricted`` was recorded are judged by
    their channel as it is now; a channel the bot cannot see counts as age-restricted (the safe side)."""
    age_restricted = job.age_restricted
    if age_restricted is None:
        channel = client.get_channel(job.channel_id) if client is not None else None
        age_restricted = channel is None or channel_is_nsfw(channel)
    return Subject(
        job_id=job.id,
        guild_id=job.guild_id,
        owner_id=job.user_id,
        results=RESULTS.get(job.state, Results.NONE),
        made_in_nsfw=age_restricted,
        state_words=STATE_WORDS[job.state],
    )


class JobAccess:
    """Asks the access rule on behalf of the handlers; raises AccessDenied with the rule's reason."""

    def __init__(self, moderation: ModerationService | None, *, anyone_can_reroll: bool = False) -> None:
        self._moderation = moderation
        self._anyone_can_reroll = anyone_can_reroll

    async def require(self, interaction: discord.Interaction[Any], job: Job, action: Action) -> Allow:
        """Allow (``as_moderator`` says whether only moderation made it so), or raise AccessDenied."""
        decision = decide_access(
            await self._actor(interaction),
            subject_of(job, interaction.client),
            place_of(interaction),
            action,
            await self._policy(interaction.guild_id),
            anyone_can_reroll=self._anyone_can_reroll,
        )
        if isinstance(decision, Deny):
            log.info(
                "job=%s %s refused to user=%s in guild=%s: %s",
                job.id,
                action.value,
                interaction.user.id,
                interaction.guild_id,
                decision.reason,
            )
            raise AccessDenied(decision.reason)
        return decision

    async def _policy(self, guild_id: int | None) -> GuildPolicy:
        if self._moderation is None or guild_id is None:
            return GuildPolicy()
        return await self._moderation.policy(guild_id)

    async def _actor(self, interaction: discord.Interaction[Any]) -> Actor:
        banned = False
        if self._moderation is not None and interaction.guild_id is not None:
            ban = await self._moderation.bans.active_ban(interaction.guild_id, interaction.user.id)
            banned = ban is not None
        return Actor(
            user_id=interaction.user.id,
            permissions=interaction.permissions.value,
            role_ids=role_ids(interaction.user),
            banned=banned,
        )


class TemplateAccess:
    """Asks the template rule (``decide_template_access``) for a ``/template`` command; raises
    AccessDenied. Whether someone is an owner comes from ``is_owner`` (the client's OWNER_IDS, else
    the application's owner); the roles an owner allowed, from the database."""

    def __init__(
        self,
        managers: TemplateManagerRepository,
        moderation: ModerationService | None,
        is_owner: Callable[[discord.abc.User], Awaitable[bool]],
    ) -> None:
        self.managers = managers
        self._moderation = moderation
        self._is_owner = is_owner

    async def allowed(self, interaction: discord.Interaction[Any], action: TemplateAction) -> Allow | Deny:
        guild_id = interaction.guild_id
        roles = await self.managers.roles(guild_id) if guild_id is not None else frozenset()
        banned = False
        if self._moderation is not None and guild_id is not None:
            banned = await self._moderation.bans.active_ban(guild_id, interaction.user.id) is not None
        actor = Actor(
            user_id=interaction.user.id,
            permissions=interaction.permissions.value,
            role_ids=role_ids(interaction.user),
            banned=banned,
            bot_owner=await self._is_owner(interaction.user),
        )
        return decide_template_access(actor, place_of(interaction), action, manager_roles=roles)

    async def require(self, interaction: discord.Interaction[Any], action: TemplateAction) -> None:
        decision = await self.allowed(interaction, action)
        if isinstance(decision, Deny):
            log.info(
                "template %s refused to user=%s in guild=%s: %s",
                action.value,
                interaction.user.id,
                interaction.guild_id,
                decision.reason,
            )
            raise AccessDenied(decision.reason)
