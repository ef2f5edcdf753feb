"""The commands every server gets besides the templates: /queue, /cancel, /jobs, /show, /templates,
/help, and the owner-only /sync."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.discord_ui.render import duration, prompt_of, state_words
from bot.jobmodel.model import Job
from bot.jobmodel.states import JobState
from bot.jobs.backends import Backend, BackendPool

if TYPE_CHECKING:
    from bot.discord_ui.client import ComfyBot
    from bot.discord_ui.controller import Controller

OPEN = (JobState.PENDING_REVIEW, JobState.QUEUED, JobState.DISPATCHED, JobState.RUNNING)
MESSAGE_LIMIT = 2000


def _load(backend: Backend) -> str:
    if not backend.healthy:
        return "not answering"
    return "busy" if backend.in_flight else "idle"


def queue_text(
    mine: Sequence[Job],
    *,
    waiting: int,
    pool: BackendPool,
    position: Callable[[str], tuple[int, float] | None],
) -> str:
    """/queue: the totals, each image server by its display name, and the member's open jobs."""
    lines = []
    for job in mine:
        place = position(job.id)
        where = state_words(job, pool.display_name(job.backend))
        if place is not None:
            where = f"position {place[0] + 1}, about {duration(place[1])}"
        lines.append(f"`{job.id}` /{job.template}: {where}")
    running = sum(len(b.in_flight) for b in pool.backends)
    healthy = sum(b.healthy for b in pool.backends)
    head = f"{waiting} waiting, {running} running on {healthy} of {len(pool.backends)} image server(s)."
    servers = "Image servers: " + ", ".join(f"{b.display_name} ({_load(b)})" for b in pool.backends)
    body = "\n".join(lines) if lines else "You have no jobs waiting."
    return f"{head}\n{servers}\n{body}"[:MESSAGE_LIMIT]


def jobs_text(recent: Sequence[Job], *, pool: BackendPool) -> str:
    """/jobs: the member's recent jobs, with the image server each ran on."""
    lines = []
    for job in recent:
        prompt = prompt_of(job.params)
        text = f" — {prompt[:60]}" if prompt else ""
        lines.append(f"`{job.id}` /{job.template}: {state_words(job, pool.display_name(job.backend))}{text}")
    return "\n".join(lines)[:MESSAGE_LIMIT] or "You have not run any jobs yet."


def general_commands(controller: Controller, bot: ComfyBot) -> list[app_commands.Command[Any, Any, Any]]:
    engine = controller.engine

    @app_commands.command(
        name="queue", description="Your waiting jobs with their position and ETA, and the totals"
    )
    @app_commands.guild_only()
    async def queue(interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        mine = await engine.jobs.list_by_user(interaction.user.id, states=OPEN)
        text = queue_text(mine, waiting=len(engine.scheduler), pool=engine.pool, position=engine.position)
        await interaction.followup.send(text, ephemeral=True)

    @app_commands.command(
        name="cancel", description="Cancel one of your jobs (your newest if no id is given)"
    )
    @app_commands.describe(job="The job id shown on its status message")
    @app_commands.guild_only()
    async def cancel(interaction: discord.Interaction[Any], job: str | None = None) -> None:
        await controller.cancel_command(interaction, job)

    @app_commands.command(name="jobs", description="Your recent jobs")
    @app_commands.guild_only()
    async def jobs(interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        recent = await engine.jobs.recent_for_user(interaction.user.id, limit=10)
        await interaction.followup.send(jobs_text(recent, pool=engine.pool), ephemeral=True)

    @app_commands.command(name="show", description="Post a finished job's result again, with working buttons")
    @app_commands.describe(job="The job id")
    @app_commands.guild_only()
    async def show(interaction: discord.Interaction[Any], job: str) -> None:
        await controller.show(interaction, job)

    @app_commands.command(
        name="templates", description="The image commands on this server and what they take"
    )
    async def templates(interaction: discord.Interaction[Any]) -> None:
        lines = []
        for template in controller.templates:
            able = sum(b.healthy and b.can_run(template.name) for b in engine.pool.backends)
            options = ", ".join(p.name + ("" if p.required else "?") for p in template.options)
            status = "ready" if able else "no image server can run it right now"
            lines.append(
                f"**/{template.name}** ({status}): {template.description}\n  options: {options or 'none'}"
            )
        await interaction.response.send_message(
            "\n".join(lines)[:2000] or "No templates are loaded.", ephemeral=True
        )

    @app_commands.command(name="help", description="How to use this bot")
    async def help_(interaction: discord.Interaction[Any]) -> None:
        names = ", ".join(f"/{t.name}" for t in controller.templates) or "none yet"
        text = (
            f"Make images with {names}. Each command takes a prompt and options; attach images where asked.\n"
            "Your status message shows your place in the queue, then live progress, then the results with "
            "buttons: **Re-roll** (new seed), **Edit** (change the text), **Delete**, and follow-ups.\n"
            "/queue shows your waiting jobs, /cancel stops one, /jobs lists recent ones, "
            "/show reposts a result, /templates lists the commands."
        )
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="sync", description="Owner only: sync the slash commands with Discord now")
    @app_commands.default_permissions(administrator=True)
    async def sync(interaction: discord.Interaction[Any]) -> None:
        if not await bot.is_owner(interaction.user):
            await interaction.response.send_message("Only the bot's owner can do this.", ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        how = await bot.sync_commands(force=True)
        await interaction.followup.send(f"Commands synced ({how}).", ephemeral=True)

    help_.name = "help"
    return [queue, cancel, jobs, show, templates, help_, sync]
