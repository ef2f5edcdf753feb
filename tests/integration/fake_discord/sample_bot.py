"""A tiny stand-in for the real bot: the discord.py features the project will use, nothing more."""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from tests.fakes.discord import FakeDiscord


class ApproveButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"mq:approve:(?P<job>[0-9]+)"
):
    """Persistent moderation button: its state lives in the custom_id, so it survives restarts."""

    def __init__(self, job: int) -> None:
        super().__init__(
            discord.ui.Button(label="Approve", style=discord.ButtonStyle.green, custom_id=f"mq:approve:{job}")
        )
        self.job = job

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ApproveButton:
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.edit_message(
            content=f"Job {self.job} approved by {interaction.user}", view=None
        )
        bot: SampleBot = interaction.client  # type: ignore[assignment]
        bot.approved.append(self.job)


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    rating: discord.ui.TextInput[FeedbackModal] = discord.ui.TextInput(
        label="Rating", custom_id="rating", max_length=2
    )
    comment: discord.ui.TextInput[FeedbackModal] = discord.ui.TextInput(
        label="Comment", custom_id="comment", style=discord.TextStyle.long, required=False
    )

    def __init__(self) -> None:
        super().__init__(custom_id="feedback")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            f"thanks: {self.rating.value}/{self.comment.value}", ephemeral=True
        )


async def style_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    styles = ("anime", "photo", "pixel-art", "watercolor")
    return [app_commands.Choice(name=s.title(), value=s) for s in styles if current.lower() in s]


class Studio(commands.Cog):
    def __init__(self, bot: SampleBot) -> None:
        self.bot = bot

    @app_commands.command(name="imagine", description="Generate an image")
    @app_commands.describe(prompt="What to draw", image="Optional init image", steps="Progress steps")
    async def imagine(
        self,
        interaction: discord.Interaction,
        prompt: str,
        image: discord.Attachment | None = None,
        steps: app_commands.Range[int, 1, 10] = 3,
    ) -> None:
        await interaction.response.defer(thinking=True)
        init = await image.read() if image else b""
        self.bot.downloads.append(init)
        for step in range(1, steps + 1):
            await interaction.edit_original_response(content=f"`{prompt}`: step {step}/{steps}")
        results = [
            discord.File(io.BytesIO(f"png {prompt} {i}".encode()), f"result-{i}.png") for i in range(2)
        ]
        await interaction.followup.send(content=f"`{prompt}` done", files=results)
        view = discord.ui.View(timeout=None)
        view.add_item(ApproveButton(job=interaction.id))
        mod = self.bot.get_channel(self.bot.mod_channel_id)
        assert isinstance(mod, discord.TextChannel)
        await mod.send(f"Job {interaction.id} awaiting review", view=view)

    @app_commands.command(name="style", description="Pick a style")
    @app_commands.autocomplete(name=style_autocomplete)
    async def style(self, interaction: discord.Interaction, name: str) -> None:
        await interaction.response.send_message(f"style set to {name}", ephemeral=True)

    @app_commands.command(name="feedback", description="Tell us what you think")
    async def feedback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(FeedbackModal())


class SampleBot(commands.Bot):
    """Commands added to ``bot.tree`` before ``start_client`` are synced (to the test guild) on startup."""

    def __init__(self, fake: FakeDiscord, **kwargs: Any) -> None:
        kwargs.setdefault("intents", discord.Intents.default())
        super().__init__(command_prefix=commands.when_mentioned, guild_ready_timeout=0.05, **kwargs)
        self.guild_id = int(fake.guild.id)
        self.mod_channel_id = int(fake.mod_channel.id)
        self.downloads: list[bytes] = []
        self.approved: list[int] = []
        self.app_errors: list[Exception] = []
        self.tree.error(self._on_app_command_error)

    async def setup_hook(self) -> None:
        await self.add_cog(Studio(self))
        self.add_dynamic_items(ApproveButton)
        guild = discord.Object(self.guild_id)
        self.tree.copy_global_to(guild=guild)
        await self.tree.sync(guild=guild)

    async def _on_app_command_error(self, interaction: discord.Interaction, error: Exception) -> None:
        self.app_errors.append(error)


async def wait_until(predicate: Any, timeout: float = 5.0) -> Any:
    """Polls a bot-side condition."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (result := predicate()):
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.005)
    return result
