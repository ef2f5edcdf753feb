"""Channel messages: files, attachment keep/drop/add on edit, limits, deletion, permissions."""

from __future__ import annotations

import io

import discord
import pytest

from tests.fakes.discord import FakeDiscord, Permission
from tests.fakes.discord.client import start_client

from .sample_bot import SampleBot, wait_until


def file(name: str, data: bytes) -> discord.File:
    return discord.File(io.BytesIO(data), name)


async def started(fake: FakeDiscord) -> tuple[SampleBot, discord.TextChannel]:
    bot = SampleBot(fake)
    await start_client(bot, fake)
    channel = bot.get_channel(int(fake.channel.id))
    assert isinstance(channel, discord.TextChannel)
    return bot, channel


async def test_send_files_then_edit_keeps_drops_and_adds(fake_discord: FakeDiscord) -> None:
    _, channel = await started(fake_discord)
    msg = await channel.send("two files", files=[file("a.png", b"a"), file("b.png", b"bb")])
    assert [a.filename for a in msg.attachments] == ["a.png", "b.png"]
    [post] = fake_discord.calls("POST", f"/channels/{channel.id}/messages")
    assert post.json["content"] == "two files"
    assert [(f.field, f.filename, f.data) for f in post.files] == [
        ("files[0]", "a.png", b"a"),
        ("files[1]", "b.png", b"bb"),
    ]

    # keep b.png, drop a.png, add c.png
    msg = await msg.edit(content="edited", attachments=[msg.attachments[1], file("c.png", b"ccc")])
    assert [a.filename for a in msg.attachments] == ["b.png", "c.png"]
    patch = fake_discord.calls("PATCH", f"/channels/{channel.id}/messages/{msg.id}")[-1]
    assert patch.json["attachments"][0]["id"] == msg.attachments[0].id
    assert patch.json["attachments"][1] == {"id": 0, "filename": "c.png"}
    assert await msg.attachments[1].read() == b"ccc"  # served by the loopback CDN

    # an edit without `attachments` keeps them; attachments=[] drops them all
    msg = await msg.edit(content="text only change")
    assert [a.filename for a in msg.attachments] == ["b.png", "c.png"]
    msg = await msg.edit(attachments=[])
    assert msg.attachments == []
    stored = fake_discord.message(msg.id)
    assert stored.content == "text only change"
    assert stored.edit_count == 3
    assert [h["attachments"] for h in stored.history] == [
        ["a.png", "b.png"],
        ["b.png", "c.png"],
        ["b.png", "c.png"],
    ]


async def test_gateway_echoes_message_events(fake_discord: FakeDiscord) -> None:
    bot, channel = await started(fake_discord)
    seen: list[str] = []

    async def on_message(message: discord.Message) -> None:
        seen.append(f"create:{message.content}")

    async def on_raw_message_delete(payload: discord.RawMessageDeleteEvent) -> None:
        seen.append(f"delete:{payload.message_id}")

    bot.add_listener(on_message)
    bot.add_listener(on_raw_message_delete)
    msg = await channel.send("hello")
    await msg.delete()
    await wait_until(lambda: len(seen) == 2)
    assert seen == ["create:hello", f"delete:{msg.id}"]


async def test_deleted_status_message_is_unknown_message(fake_discord: FakeDiscord) -> None:
    _, channel = await started(fake_discord)
    status = await channel.send("queued: 0%")
    await fake_discord.delete_message(status.id)  # a moderator removed it
    with pytest.raises(discord.NotFound) as exc:
        await status.edit(content="queued: 50%")
    assert exc.value.code == 10008
    with pytest.raises(discord.NotFound):
        await channel.fetch_message(status.id)
    assert fake_discord.message(status.id).deleted


async def test_content_embed_and_component_limits(fake_discord_factory) -> None:
    fake_discord = await fake_discord_factory(send_rate=None)  # 6 sends would wait for the 5/5 s bucket
    _, channel = await started(fake_discord)

    with pytest.raises(discord.HTTPException) as exc:
        await channel.send("x" * 2001)
    assert (exc.value.status, exc.value.code) == (400, 50035)
    assert "In content: Must be 2000 or fewer in length." in exc.value.text

    await channel.send("x" * 2000)  # the limit itself is fine

    big = [discord.Embed(description="d" * 4000), discord.Embed(description="d" * 2001)]
    with pytest.raises(discord.HTTPException) as exc:
        await channel.send(embeds=big)
    assert exc.value.code == 50035
    assert "Embed size exceeds maximum size of 6000" in exc.value.text

    view = discord.ui.View()
    view.add_item(discord.ui.Button(label="L" * 81, custom_id="long-label"))
    with pytest.raises(discord.HTTPException) as exc:
        await channel.send("buttons", view=view)
    assert "components.0.components.0.label" in exc.value.text

    with pytest.raises(discord.HTTPException) as exc:
        await channel.send("")
    assert (exc.value.status, exc.value.code) == (400, 50006)

    assert fake_discord.stats.client_errors == 4
    assert len(fake_discord.channel_messages()) == 1
    # each refusal is also a recorded violation (the fixture would fail the test on any left unclaimed)
    assert [(v.json_path, v.rule) for v in fake_discord.take_violations()] == [
        ("$.content", "docs: BASE_TYPE_MAX_LENGTH"),
        ("$.embeds", "docs: MESSAGE_EMBED_SIZE_EXCEEDED"),
        ("$.components[0].components[0].label", "maxLength: 80"),
        ("$", "docs: CODE_50006"),
    ]


async def test_file_count_and_size_limits(fake_discord_factory) -> None:
    fake = await fake_discord_factory(attachment_size_limit=1024, max_request_size=8 * 1024)
    _, channel = await started(fake)

    with pytest.raises(discord.HTTPException) as exc:  # discord.py 2.7.1 does not check the 10-file limit
        await channel.send(files=[file(f"{i}.png", b"x") for i in range(11)])
    assert (exc.value.status, exc.value.code) == (400, 50035)
    assert "attachments" in exc.value.text
    assert sorted((v.json_path, v.rule) for v in fake.take_violations()) == [
        ("$.attachments", "maxItems: 10"),
        ("$.files[10]", "multipart"),
    ]

    with pytest.raises(discord.HTTPException) as exc:  # one file above the guild's upload limit
        await channel.send(file=file("big.png", b"x" * 1025))
    assert (exc.value.status, exc.value.code) == (413, 40005)

    with pytest.raises(discord.HTTPException) as exc:  # each file fits, the request does not
        await channel.send(files=[file(f"{i}.png", b"x" * 1000) for i in range(9)])
    assert (exc.value.status, exc.value.code) == (413, 40005)

    ok = await channel.send(files=[file(f"{i}.png", b"x" * 1024) for i in range(5)])
    assert len(ok.attachments) == 5
    assert channel.guild.filesize_limit == 10 * 1024 * 1024  # discord.py's own (tier-based) view


async def test_permissions_and_age_restricted_channel(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    fake.set_permissions(fake.channel, fake.bot_user, deny=Permission.ATTACH_FILES)
    bot = SampleBot(fake)
    seen: dict[str, object] = {}

    @bot.tree.command(name="whoami", description="report permissions")
    async def whoami(interaction: discord.Interaction) -> None:
        channel = interaction.channel
        seen["nsfw"] = isinstance(channel, discord.TextChannel) and channel.is_nsfw()
        seen["manage_messages"] = interaction.permissions.manage_messages
        seen["bot_attach_files"] = interaction.app_permissions.attach_files
        await interaction.response.send_message("ok", ephemeral=True)

    await start_client(bot, fake)
    channel = bot.get_channel(int(fake.channel.id))
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.Forbidden) as exc:
        await channel.send(file=file("a.png", b"a"))
    assert exc.value.code == 50013
    await channel.send("text is still allowed")

    await (await fake.slash("whoami", user=fake.moderator, channel=fake.nsfw_channel))
    assert seen == {"nsfw": True, "manage_messages": True, "bot_attach_files": True}
    await (await fake.slash("whoami", user=fake.user, channel=fake.channel))
    assert seen == {"nsfw": False, "manage_messages": False, "bot_attach_files": False}


async def test_dm_to_user_with_closed_dms(fake_discord: FakeDiscord) -> None:
    bot, _ = await started(fake_discord)
    carol = fake_discord.create_user("carol", dms_open=False)
    dm = await (await bot.fetch_user(int(fake_discord.user.id))).create_dm()
    await dm.send("your image is ready")
    assert (
        fake_discord.last_message(fake_discord.dm_channel(fake_discord.user)).content == "your image is ready"
    )
    with pytest.raises(discord.Forbidden) as exc:
        await (await bot.fetch_user(int(carol.id))).send("hi")
    assert exc.value.code == 50007


async def test_attachment_references_must_name_a_file_of_the_message(fake_discord: FakeDiscord) -> None:
    _, channel = await started(fake_discord)
    embed = discord.Embed(title="result").set_image(url="attachment://result.png")

    with pytest.raises(discord.HTTPException) as exc:  # the embed names a file that was not uploaded
        await channel.send(embed=embed, file=file("other.png", b"x"))
    assert (exc.value.status, exc.value.code) == (400, 50035)
    [violation] = fake_discord.take_violations()
    assert (violation.json_path, violation.rule) == (
        "$.embeds[0].image.url",
        "docs: ATTACHMENT_REFERENCE_NOT_FOUND",
    )

    sent = await channel.send(embed=embed, file=file("result.png", b"x"))
    attachment_url = sent.attachments[0].url
    assert sent.embeds[0].image.url == attachment_url  # Discord resolves the reference to the file's URL
    edited = await sent.edit(embed=embed.set_footer(text="kept"))  # the kept file still satisfies it
    assert edited.embeds[0].footer.text == "kept"
