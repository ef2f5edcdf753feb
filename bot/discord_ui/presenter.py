"""One place that turns any exception into what a member reads, for commands, buttons and modals."""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

import discord
from discord import app_commands

from bot.errors import BotError

log = logging.getLogger(__name__)

S = TypeVar("S")
P = ParamSpec("P")
Handler = Callable[Concatenate[S, discord.Interaction[Any], P], Coroutine[Any, Any, None]]
"""An interaction handler: a method whose first argument after ``self`` is the interaction."""
OnError = Callable[[S, discord.Interaction[Any], BaseException], Awaitable[None]]


def describe(error: BaseException) -> str:
    """The member-facing text for ``error``; unexpected errors get a reference id that is also logged."""
    if (
        isinstance(error, (app_commands.CommandInvokeError, app_commands.TransformerError))
        and error.__cause__
    ):
        error = error.__cause__
    if isinstance(error, BotError):
        return error.user_message
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: try again in {error.retry_after:.0f} seconds."
    if isinstance(error, (app_commands.MissingPermissions, app_commands.CheckFailure)):
        return "You are not allowed to use this."
    if isinstance(error, app_commands.BotMissingPermissions):
        missing = ", ".join(p.replace("_", " ") for p in error.missing_permissions)
        return f"I am missing permissions in this channel: {missing}."
    reference = secrets.token_hex(4)
    log.error("unexpected error ref=%s", reference, exc_info=error)
    return (
        f"Something went wrong on my side (reference `{reference}`). "
        "The moderators can look it up in the logs."
    )


async def reply(interaction: discord.Interaction[Any], text: str) -> None:
    """Answer ephemerally, whether or not the interaction was acknowledged already."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("could not tell the member about an error: %s", exc)


async def present(interaction: discord.Interaction[Any], error: BaseException) -> None:
    await reply(interaction, describe(error))


def answers_errors(handler: Handler[S, P]) -> Handler[S, P]:
    """Decorate an interaction handler so that whatever it raises reaches the member through the one
    presenter, privately."""
    return _answering(handler, None)


def answers_errors_with(on_error: OnError[S]) -> Callable[[Handler[S, P]], Handler[S, P]]:
    """Like ``answers_errors``, but ``on_error(self, interaction, error)`` answers (e.g. to replace a
    public "thinking" placeholder by the private answer)."""
    return lambda handler: _answering(handler, on_error)


def _answering(handler: Handler[S, P], on_error: OnError[S] | None) -> Handler[S, P]:
    @functools.wraps(handler)
    async def answered(
        self: S, interaction: discord.Interaction[Any], /, *args: P.args, **kwargs: P.kwargs
    ) -> None:
        try:
            await handler(self, interaction, *args, **kwargs)
        except Exception as exc:
            if on_error is None:
                await present(interaction, exc)
            else:
                await on_error(self, interaction, exc)

    return answered
