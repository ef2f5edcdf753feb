"""Real-looking 429s (bucket exhaustion and injected storms) and injected server errors."""

from __future__ import annotations

import asyncio
import time

import discord
import pytest

from tests.fakes.discord.client import start_client

from .sample_bot import SampleBot


@pytest.fixture
def fake_discord_options() -> dict[str, object]:
    """Module-wide options for the ``fake_discord`` fixture: no send bucket, so only injected 429s count."""
    return {"send_rate": None}


async def channel_of(fake) -> discord.TextChannel:
    bot = SampleBot(fake)
    await start_client(bot, fake)
    channel = bot.get_channel(int(fake.channel.id))
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_hidden_per_message_limit_429_is_retried_transparently(fake_discord_factory) -> None:
    fake = await fake_discord_factory(message_edit_rate=(2, 0.3), edit_rate=None)
    channel = await channel_of(fake)
    msg = await channel.send("progress 0")
    for i in range(1, 6):
        msg = await msg.edit(content=f"progress {i}")  # discord.py sleeps on retry_after and retries
    assert fake.message(msg.id).content == "progress 5"

    limited = [r for r in fake.calls("PATCH", "/channels/*/messages/*") if r.status == 429]
    assert fake.stats.rate_limited == len(limited) >= 1
    assert limited[0].response["global"] is False
    assert 0 < limited[0].response["retry_after"] <= 0.3
    assert [r.status for r in fake.calls("PATCH")].count(200) == 5


async def test_advertised_bucket_is_respected_without_429(fake_discord_factory) -> None:
    fake = await fake_discord_factory(edit_rate=(3, 0.3))
    channel = await channel_of(fake)
    msg = await channel.send("0")
    started = time.monotonic()
    for i in range(1, 8):
        msg = await msg.edit(content=str(i))
    elapsed = time.monotonic() - started
    assert fake.stats.rate_limited == 0  # discord.py read X-RateLimit-* and waited by itself
    assert elapsed >= 0.5  # 7 edits in buckets of 3 per 0.3 s
    headers = fake.calls("PATCH")[0]
    assert headers.status == 200


async def test_429_storm_and_server_errors(fake_discord) -> None:
    channel = await channel_of(fake_discord)
    storm = fake_discord.inject_errors("POST /channels/*/messages", 429, count=3, retry_after=0.02)
    msg = await channel.send("eventually")
    assert msg.content == "eventually"
    assert len(storm.hits) == 3
    assert storm.remaining == 0
    assert fake_discord.stats.rate_limited == 3
    assert fake_discord.stats.injected == 3

    fake_discord.inject_errors("PATCH /channels/*/messages/*", 503)
    with pytest.raises(discord.DiscordServerError) as exc:
        await msg.edit(content="first try")
    assert exc.value.status == 503
    await msg.edit(content="second try")
    assert fake_discord.message(msg.id).content == "second try"
    assert fake_discord.unexpected == []  # injected faults are not "unexpected"


async def test_global_429_storm_on_interaction_callback(fake_discord) -> None:
    bot = SampleBot(fake_discord)
    await start_client(bot, fake_discord)
    fake_discord.inject_errors(
        "POST /interactions/*/callback", 429, count=2, retry_after=0.02, is_global=True
    )
    rec = await fake_discord.slash("style", {"name": "anime"})
    await rec
    assert [r.status for r in fake_discord.calls("POST", "/interactions/*")] == [429, 429, 200]
    assert fake_discord.calls("POST", "/interactions/*")[0].response["global"] is True


async def test_a_held_request_is_applied_only_once_released(fake_discord) -> None:
    channel = await channel_of(fake_discord)
    msg = await channel.send("zeroth")
    # discord.py sends one request at a time on a route until Discord told it the bucket's size.
    msg = await msg.edit(content="first")
    hold = fake_discord.hold("PATCH /channels/*/messages/*")
    edit = asyncio.ensure_future(msg.edit(content="held"))
    await asyncio.wait_for(hold.arrived.wait(), 5)
    assert hold.request is not None
    assert hold.request.json["content"] == "held"
    assert fake_discord.message(msg.id).content == "first"  # nothing happened to it yet
    await msg.edit(content="overtaking")  # the next matching request is not held
    assert fake_discord.message(msg.id).content == "overtaking"
    hold.release()
    await asyncio.wait_for(edit, 5)
    assert hold.handled.is_set()
    assert fake_discord.message(msg.id).content == "held"


async def test_a_hold_can_pick_one_request_by_its_body(fake_discord) -> None:
    channel = await channel_of(fake_discord)
    msg = await channel.send("zeroth")
    msg = await msg.edit(content="first")
    hold = fake_discord.hold("PATCH /channels/*", when=lambda r: (r.json or {}).get("content") == "pick me")
    await msg.edit(content="not me")  # passes
    edit = asyncio.ensure_future(msg.edit(content="pick me"))
    await asyncio.wait_for(hold.arrived.wait(), 5)
    assert fake_discord.message(msg.id).content == "not me"
    hold.release()
    await asyncio.wait_for(edit, 5)
    assert fake_discord.message(msg.id).content == "pick me"
