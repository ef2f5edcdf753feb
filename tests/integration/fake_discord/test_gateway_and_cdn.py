"""Gateway reconnect/resume/invalid session, sharding, CDN expiry and unexpected-request detection."""

from __future__ import annotations

import asyncio

import discord
import pytest
from discord.ext import commands

from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.client import start_client

from .sample_bot import SampleBot


async def test_reconnect_resume_replays_missed_events(fake_discord: FakeDiscord) -> None:
    bot = SampleBot(fake_discord)
    resumed = asyncio.Event()

    async def on_resumed() -> None:
        resumed.set()

    bot.add_listener(on_resumed)
    await start_client(bot, fake_discord)
    seq_before = fake_discord.gateway.sessions[0].seq

    await fake_discord.reconnect_gateway()
    await asyncio.wait_for(resumed.wait(), 5)
    [resume] = fake_discord.gateway.resumes
    assert resume["token"] == "fake-token"
    assert resume["seq"] == seq_before
    assert resume["session_id"] == fake_discord.gateway.sessions[0].id
    assert fake_discord.gateway.connections[-1].path == "/resume-gateway"  # honoured resume_gateway_url
    assert len(fake_discord.gateway.identifies) == 1

    rec = await fake_discord.slash("imagine", {"prompt": "after resume", "steps": 1})
    await fake_discord.wait_for(lambda: rec.followups)
    assert rec.followups[0].content == "`after resume` done"


async def test_events_sent_during_reconnect_are_replayed(fake_discord: FakeDiscord) -> None:
    bot = SampleBot(fake_discord)
    await start_client(bot, fake_discord)
    session = fake_discord.gateway.sessions[0]
    await fake_discord.reconnect_gateway(wait=False)
    # sent right behind op 7: discord.py closes before reading it, so only the RESUME replay delivers it
    rec = await fake_discord.slash("style", {"name": "photo"})
    await rec
    assert rec.response is not None
    assert rec.response["data"]["content"] == "style set to photo"
    [frame] = session.events("INTERACTION_CREATE")
    [resume] = fake_discord.gateway.resumes
    assert resume["seq"] < frame["s"]


async def test_auto_sharded_bot_uses_gateway_bot_and_shard_echo(fake_discord: FakeDiscord) -> None:
    bot = commands.AutoShardedBot(
        command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05
    )
    await start_client(bot, fake_discord)  # no shard_count: discord.py asks GET /gateway/bot
    assert fake_discord.calls("GET", "/gateway/bot")
    assert bot.shard_count == 1
    [identify] = fake_discord.gateway.identifies
    assert identify["shard"] == [0, 1]
    [ready] = fake_discord.gateway.sessions[0].events("READY")
    assert ready["d"]["shard"] == [0, 1]
    assert [g.id for g in bot.guilds] == [int(fake_discord.guild.id)]


async def test_shard_only_receives_its_guilds(fake_discord: FakeDiscord) -> None:
    def shard_of(guild_id: str) -> int:
        return (int(guild_id) >> 22) % 2

    guilds = [fake_discord.guild]
    while len({shard_of(g.id) for g in guilds}) < 2:  # ids are time-based: make one land on each shard
        await asyncio.sleep(0.001)
        guilds.append(fake_discord.create_guild(f"Guild {len(guilds)}"))
    bot = commands.AutoShardedBot(
        command_prefix="!",
        intents=discord.Intents.default(),
        shard_count=2,
        shard_ids=[1],  # one shard per process: discord.py sleeps 5 s between identifies otherwise
        guild_ready_timeout=0.05,
    )
    await start_client(bot, fake_discord)
    assert sorted(g.id for g in bot.guilds) == sorted(int(g.id) for g in guilds if shard_of(g.id) == 1)
    assert fake_discord.gateway.identifies[0]["shard"] == [1, 2]


async def test_expired_attachment_urls(fake_discord: FakeDiscord) -> None:
    bot = SampleBot(fake_discord)
    await start_client(bot, fake_discord)
    channel = bot.get_channel(int(fake_discord.channel.id))
    assert isinstance(channel, discord.TextChannel)
    import io

    msg = await channel.send(
        files=[discord.File(io.BytesIO(b"one"), "1.png"), discord.File(io.BytesIO(b"two"), "2.png")]
    )
    first, second = msg.attachments
    assert await first.read() == b"one"
    fake_discord.expire_attachment(first.url)
    fake_discord.expire_attachment(second, status=403)
    with pytest.raises(discord.NotFound):
        await first.read()
    with pytest.raises(discord.Forbidden):
        await second.read()
    assert [r.status for r in fake_discord.calls("GET", "/attachments/*")] == [200, 404, 403]


async def test_attachment_url_lifetime(fake_discord_factory) -> None:
    fake = await fake_discord_factory(attachment_url_lifetime=0.05)
    bot = SampleBot(fake)

    @bot.tree.command(name="upscale", description="downloads its input late")
    async def upscale(interaction: discord.Interaction, image: discord.Attachment) -> None:
        await interaction.response.defer()
        await asyncio.sleep(0.1)  # queued for too long: the signed URL expired
        try:
            await image.read()
        except discord.NotFound:
            await interaction.followup.send("your upload expired, please re-upload")

    await start_client(bot, fake)
    rec = await fake.slash("upscale", attachments=[("in.png", b"png", "image/png")])
    await fake.wait_for(lambda: rec.original_message and not rec.original_message.loading)
    assert rec.original_message is not None
    assert rec.original_message.content == "your upload expired, please re-upload"


async def test_unexpected_requests_are_reported(fake_discord: FakeDiscord) -> None:
    bot = SampleBot(fake_discord)
    await start_client(bot, fake_discord)
    guild = bot.get_guild(int(fake_discord.guild.id))
    assert guild is not None
    with pytest.raises(discord.NotFound):
        await guild.fetch_emojis()  # not implemented by the fake
    [surprise] = fake_discord.unexpected
    assert surprise.kind == "unknown-route"
    assert surprise.request is not None
    assert surprise.request.path == f"/guilds/{guild.id}/emojis"
    with pytest.raises(AssertionError, match="1 unexpected"):
        fake_discord.check_unexpected()  # what the fixture runs on teardown
    fake_discord.fail_on_unexpected = False  # this test expected it
