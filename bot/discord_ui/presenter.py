"""One place that turns any exception into what a member reads, for commands, buttons and modals."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import discord
from discord import app_commands

from bot.errors import BotError

log = logging.getLogger(__name__)


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
