"""Login, gateway handshake and application-command sync against the fake."""

from __future__ import annotations

from typing import Any

import discord
import pytest
from discord import app_commands

from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.client import start_client, stop_client

from .sample_bot import SampleBot


async def test_login_handshake_and_sync_payload(fake_discord: FakeDiscord) -> None:
    bot = SampleBot(fake_discord)
    task = await start_client(bot, fake_discord)

    assert bot.user is not None
    assert bot.user.id == int(fake_discord.bot_user.id)
    assert bot.application_id == int(fake_discord.application_id)
    [guild] = bot.guilds
    assert guild.id == int(fake_discord.guild.id)
    assert {c.name for c in guild.text_channels} == {"general", "mod-queue", "nsfw-art"}
    assert guild.get_channel(int(fake_discord.nsfw_channel.id)).is_nsfw()  # type: ignore[union-attr]
    assert "Moderator" in [r.name for r in guild.roles]

    assert [r.path for r in fake_discord.calls("GET")][:2] == ["/users/@me", "/oauth2/applications/@me"]
    [identify] = fake_discord.gateway.identifies
    assert identify["token"] == "fake-token"
    assert identify["intents"] == discord.Intents.default().value
    [connection] = fake_discord.gateway.connections
    assert connection.path == "/gateway"
    assert connection.query["v"] == "10"
    assert connection.heartbeats >= 1  # discord.py heartbeats right after HELLO; the fake ACKs

    [put] = fake_discord.calls("PUT", f"/applications/{fake_discord.application_id}/guilds/*/commands")
    imagine = next(c for c in put.json if c["name"] == "imagine")
    assert [(o["name"], o["type"], o["required"]) for o in imagine["options"]] == [
        ("prompt", 3, True),
        ("image", 11, False),
        ("steps", 4, False),
    ]
    steps = imagine["options"][2]
    assert (steps["min_value"], steps["max_value"]) == (1, 10)
    assert sorted(c["name"] for c in fake_discord.guild_commands()) == ["feedback", "imagine", "style"]

    fetched = await bot.tree.fetch_commands(guild=discord.Object(int(fake_discord.guild.id)))
    assert sorted(c.name for c in fetched) == ["feedback", "imagine", "style"]
    assert {c.id for c in fetched} == {int(c["id"]) for c in fake_discord.guild_commands()}

    await stop_client(bot, task)
    await fake_discord.wait_for(lambda: not fake_discord.gateway.connected_sessions())
    assert fake_discord.stats.rate_limited == 0


async def test_resync_keeps_command_ids(fake_discord: FakeDiscord) -> None:
    bot = SampleBot(fake_discord)
    await start_client(bot, fake_discord)
    before = {c["name"]: c["id"] for c in fake_discord.guild_commands()}
    await bot.tree.sync(guild=discord.Object(int(fake_discord.guild.id)))
    assert {c["name"]: c["id"] for c in fake_discord.guild_commands()} == before


async def test_sync_rejected_like_discord(fake_discord: FakeDiscord) -> None:
    bot = SampleBot(fake_discord)
    guild = discord.Object(int(fake_discord.guild.id))

    @bot.tree.command(name="verbose", description="x" * 101, guild=guild)
    async def verbose(interaction: discord.Interaction) -> None: ...

    with pytest.raises(app_commands.CommandSyncFailure) as failure:
        await start_client(bot, fake_discord)
    assert (failure.value.status, failure.value.code) == (400, 50035)
    assert "Must be between 1 and 100 in length" in str(failure.value)
    assert fake_discord.guild_commands() == []  # nothing stored on failure
    [violation] = fake_discord.take_violations()
    assert violation.operation_id == "bulk_set_guild_application_commands"
    assert (violation.json_path, violation.rule) == ("$[0].description", "maxLength: 100")


async def test_raw_sync_errors_object(fake_discord: FakeDiscord) -> None:
    """What discord.py cannot catch client-side: a bad name and 26 options via the HTTP layer."""
    bot = SampleBot(fake_discord)
    await start_client(bot, fake_discord)
    many = [{"name": f"o{i}", "description": "d", "type": 3} for i in range(26)]
    payload: list[dict[str, Any]] = [
        {"name": "Bad Name", "description": "ok", "type": 1},
        {"name": "many", "description": "ok", "type": 1, "options": many},
        {
            "name": "order",
            "description": "ok",
            "options": [
                {"name": "a", "description": "d", "type": 3},
                {"name": "b", "description": "d", "type": 3, "required": True},
                {
                    "name": "c",
                    "description": "d",
                    "type": 3,
                    "autocomplete": True,
                    "choices": [{"name": "x", "value": "x"}],
                },
                {"name": "e", "description": "d", "type": 3, "max_length": 6001},
            ],
        },
    ]
    with pytest.raises(discord.HTTPException) as exc:
        await bot.http.bulk_upsert_guild_commands(
            fake_discord.application_id, fake_discord.guild.id, payload=payload
        )
    assert (exc.value.status, exc.value.code) == (400, 50035)
    errors = fake_discord.calls("PUT")[-1].response["errors"]  # the body discord.py parsed
    assert errors["0"]["name"]["_errors"][0]["code"] == "APPLICATION_COMMAND_INVALID_NAME"
    assert errors["1"]["options"]["_errors"][0]["message"] == "Must be 25 or fewer in length."
    order = errors["2"]["options"]
    assert order["1"]["required"]["_errors"][0]["code"] == "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID"
    assert "autocomplete" in order["2"]
    assert "max_length" in order["3"]
    assert "In 0.name: Command name is invalid" in exc.value.text
    assert sorted((v.json_path, v.source) for v in fake_discord.take_violations()) == [
        ("$[0].name", "docs"),  # the name regex is a documented rule the spec cannot express
        ("$[1].options", "spec"),  # maxItems 25
        ("$[2].options[1].required", "docs"),  # required options first
        ("$[2].options[2].autocomplete", "docs"),  # autocomplete with choices
        ("$[2].options[3].max_length", "spec"),  # maximum 6000
    ]


async def test_login_with_wrong_token_fails(fake_discord_factory) -> None:
    fake = await fake_discord_factory(token="the-real-one")
    bot = SampleBot(fake)
    with pytest.raises(discord.LoginFailure):
        await start_client(bot, fake, token="wrong")
    await stop_client(bot)


async def test_privileged_intents_must_be_enabled(fake_discord: FakeDiscord) -> None:
    bot = SampleBot(fake_discord, intents=discord.Intents.all())
    with pytest.raises(discord.PrivilegedIntentsRequired):
        await start_client(bot, fake_discord)
    await stop_client(bot)
