"""The typed interface between the buttons and forms and the code that handles them.

discord.py builds a persistent button (a DynamicItem) from its custom_id alone, so the button finds its
handler through the interaction's client. The client (``ComfyBot``) is an ``ActionHost``: it hands out
the member-side ``JobActions`` (the Controller) and the moderator-side ``ReviewActions`` (the review
desk). Views depend on these protocols only, never on the classes behind them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import discord

from bot.errors import BotError


class JobActions(Protocol):
    """What the buttons and the Edit form on a member's job messages ask for (the Controller)."""

    async def cancel_button(self, interaction: discord.Interaction[Any], job_id: str) -> None: ...

    async def reroll(self, interaction: discord.Interaction[Any], job_id: str) -> None: ...

    async def edit(self, interaction: discord.Interaction[Any], job_id: str) -> None: ...

    async def edit_submitted(
        self, interaction: discord.Interaction[Any], job_id: str, opened_by: int, texts: Mapping[str, str]
    ) -> None: ...

    async def follow_up(
        self, interaction: discord.Interaction[Any], job_id: str, index: int, output: int | None = None
    ) -> None:
        """Follow-up ``index`` of the job's template on output ``output`` (None: the first image)."""
        ...

    async def vary(self, interaction: discord.Interaction[Any], job_id: str, output: int) -> None:
        """Make the image that is output ``output`` of the job again, on its own."""
        ...

    async def delete(self, interaction: discord.Interaction[Any], job_id: str) -> None: ...


class ReviewActions(Protocol):
    """What the review lane's buttons and forms ask for (the review desk)."""

    async def approve(self, interaction: discord.Interaction[Any], job_id: str) -> None: ...

    async def open_form(self, interaction: discord.Interaction[Any], job_id: str, *, ban: bool) -> None: ...

    async def form_submitted(
        self,
        interaction: discord.Interaction[Any],
        job_id: str,
        *,
        ban: bool,
        opened_by: int,
        reason: str,
        duration: str,
    ) -> None: ...

    async def decide_output(
        self, interaction: discord.Interaction[Any], job_id: str, *, release: bool
    ) -> None: ...


@runtime_checkable
class ActionHost(Protocol):
    """A discord.py client whose buttons and forms this package can handle (``ComfyBot``)."""

    @property
    def job_actions(self) -> JobActions: ...

    @property
    def review_actions(self) -> ReviewActions | None:
        """None when the bot runs without a review lane."""
        ...


class NotHandledHere(BotError):
    """A button or form reached a client that cannot handle it."""


def job_actions(interaction: discord.Interaction[Any]) -> JobActions:
    """The handlers of a member's job buttons and forms, found through the interaction's client."""
    client = interaction.client
    if not isinstance(client, ActionHost):
        raise NotHandledHere("This button is not set up on this bot.")
    return client.job_actions


def review_actions(interaction: discord.Interaction[Any]) -> ReviewActions:
    """The handlers of the review lane's buttons and forms, found through the interaction's client."""
    client = interaction.client
    actions = client.review_actions if isinstance(client, ActionHost) else None
    if actions is None:
        raise NotHandledHere("The review lane is not set up on this bot.")
    return actions
