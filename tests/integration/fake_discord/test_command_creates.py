"""The fake enforces Discord's daily limit on creating application commands like the real API: new
commands (only those) count per scope over a rolling day, and going over is a 429 with code 30034, which
also fails the test as a violation."""

from __future__ import annotations

import discord
import pytest

from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.client import start_client

from .sample_bot import SampleBot


def _add(bot: SampleBot, *names: str) -> None:
    for name in names:

        async def callback(interaction: discord.Interaction) -> None: ...

        bot.tree.add_command(discord.app_commands.Command(name=name, description="d", callback=callback))


async def test_only_new_commands_count_and_going_over_is_refused_like_discord(
    fake_discord_factory,
) -> None:
    fake: FakeDiscord = await fake_discord_factory(command_create_limit=(5, 3600.0))
    now = [1000.0]
    fake.command_creates.clock = lambda: now[0]
    bot = SampleBot(fake, max_ratelimit_timeout=1.0)  # raise on a long 429 instead of sleeping
    await start_client(bot, fake)  # imagine, style, feedback: 3 creates
    guild = discord.Object(int(fake.guild.id))
    assert fake.command_creates.spent(fake.guild.id) == 3

    await bot.tree.sync(guild=guild)  # the same three again: no creates
    assert fake.command_creates.spent(fake.guild.id) == 3

    _add(bot, "one", "two", "three")
    bot.tree.copy_global_to(guild=guild)
    with pytest.raises(discord.RateLimited) as limited:
        await bot.tree.sync(guild=guild)
    assert limited.value.retry_after > 3000  # until the first creates leave the window
    [refused] = [c for c in fake.calls("PUT", "/applications/*/commands") if c.status == 429]
    assert refused.response["code"] == 30034
    assert "daily application command creates" in refused.response["message"]
    assert sorted(c["name"] for c in fake.guild_commands()) == ["feedback", "imagine", "style"]
    [violation] = fake.take_violations()
    assert violation.rule == "docs: 30034"
    assert violation.operation_id == "bulk_set_guild_application_commands"

    now[0] += 3600  # a rolling window: the first three creates have aged out
    await bot.tree.sync(guild=guild)
    assert sorted(c["name"] for c in fake.guild_commands()) == [
        "feedback",
        "imagine",
        "one",
        "style",
        "three",
        "two",
    ]
    assert fake.command_creates.spent(fake.guild.id) == 3
    assert fake.command_creates.spent(None) == 0  # global commands are a scope of their own
