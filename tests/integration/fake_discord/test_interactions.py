"""Slash commands, components, autocomplete and modals: acknowledgement rules and token lifetime."""

from __future__ import annotations

import asyncio

import discord
import pytest

from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.client import start_client, stop_client

from .sample_bot import SampleBot, wait_until

PNG = b"\x89PNG\r\n\x1a\n fake init image"


async def test_slash_with_attachment_defers_and_downloads(fake_discord: FakeDiscord) -> None:
    bot = SampleBot(fake_discord)
    await start_client(bot, fake_discord)

    rec = await fake_discord.slash(
        "imagine", {"prompt": "a cat"}, attachments=[("init.png", PNG, "image/png")]
    )
    await rec
    assert rec.response_type == 5
    assert rec.deferred
    assert rec.ack_latency is not None
    assert rec.ack_latency < fake_discord.ack_deadline
    [callback] = fake_discord.calls("POST", f"/interactions/{rec.id}/*/callback")
    assert callback.json == {"type": 5}
    assert callback.query == {"with_response": "1"}
    assert callback.response["interaction"]["response_message_loading"] is True

    await wait_until(lambda: bot.downloads)
    assert bot.downloads == [PNG]
    [download] = fake_discord.calls("GET", "/attachments/*", route=None)
    assert download.kind == "cdn"
    assert download.status == 200
    # the resolved attachment carried the interaction's upload limit and a loopback CDN URL
    option = rec.payload["data"]["resolved"]["attachments"]
    assert next(iter(option.values()))["url"].startswith(fake_discord.base_url + "/attachments/")
    assert rec.payload["attachment_size_limit"] == fake_discord.guild.attachment_size_limit


async def test_defer_progress_edits_then_followup_with_files(fake_discord: FakeDiscord) -> None:
    bot = SampleBot(fake_discord)
    await start_client(bot, fake_discord)

    rec = await fake_discord.slash("imagine", {"prompt": "a dog", "steps": 3})
    review = await fake_discord.wait_for(lambda: fake_discord.channel_messages(fake_discord.mod_channel))

    edits = fake_discord.calls("PATCH", f"/webhooks/*/{rec.token}/messages/@original")
    assert [e.json["content"] for e in edits] == [f"`a dog`: step {i}/3" for i in (1, 2, 3)]
    original = rec.original_message
    assert original is not None
    assert not original.loading
    assert [h["content"] for h in original.history] == ["", "`a dog`: step 1/3", "`a dog`: step 2/3"]
    assert original.content == "`a dog`: step 3/3"

    [followup_request] = fake_discord.calls("POST", f"/webhooks/{fake_discord.application_id}/{rec.token}")
    assert followup_request.query["wait"] == "1"
    assert [(f.field, f.filename, f.size) for f in followup_request.files] == [
        ("files[0]", "result-0.png", len(b"png a dog 0")),
        ("files[1]", "result-1.png", len(b"png a dog 1")),
    ]
    assert followup_request.json["attachments"] == [
        {"id": 0, "filename": "result-0.png"},
        {"id": 1, "filename": "result-1.png"},
    ]
    [followup] = rec.followups
    assert followup.content == "`a dog` done"
    assert [a.data for a in followup.attachments] == [b"png a dog 0", b"png a dog 1"]
    assert followup.attachments[0].content_type == "image/png"
    assert review[0].custom_ids() == [f"mq:approve:{rec.id}"]


async def test_first_followup_replaces_thinking_message(fake_discord: FakeDiscord) -> None:
    bot = SampleBot(fake_discord)

    @bot.tree.command(name="quick", description="defer, then answer with a followup")
    async def quick(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        await interaction.followup.send("answer")
        await interaction.followup.send("second")

    await start_client(bot, fake_discord)
    rec = await fake_discord.slash("quick")
    await fake_discord.wait_for(lambda: rec.followups)
    original = rec.original_message
    assert original is not None
    assert (original.content, original.ephemeral, original.loading) == ("answer", True, False)
    assert [m.content for m in rec.followups] == ["second"]


async def test_dynamic_item_button_survives_restart(fake_discord: FakeDiscord) -> None:
    first = SampleBot(fake_discord)
    task = await start_client(first, fake_discord)
    rec = await fake_discord.slash("imagine", {"prompt": "moderate me", "steps": 1})
    review = (await fake_discord.wait_for(lambda: fake_discord.channel_messages(fake_discord.mod_channel)))[0]
    await stop_client(first, task)  # the "old process": no View objects survive

    second = SampleBot(fake_discord)  # a brand-new client object on the same fake
    await start_client(second, fake_discord)
    click = await fake_discord.click(f"mq:approve:{rec.id}", review, user=fake_discord.moderator)
    await click
    assert click.response_type == 7  # UPDATE_MESSAGE
    await wait_until(lambda: second.approved)
    assert second.approved == [int(rec.id)]
    assert first.approved == []
    assert review.content == f"Job {rec.id} approved by bob"
    assert review.components == []
    assert len(fake_discord.gateway.identifies) == 2


async def test_late_acknowledgement_is_unknown_interaction(fake_discord_factory) -> None:
    fake = await fake_discord_factory(ack_deadline=0.2)
    bot = SampleBot(fake)

    @bot.tree.command(name="sluggish", description="does I/O before deferring")
    async def sluggish(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.3)
        await interaction.response.defer()

    await start_client(bot, fake)
    rec = await fake.slash("sluggish")
    await wait_until(lambda: bot.app_errors)
    error = bot.app_errors[0]
    assert isinstance(error, discord.app_commands.CommandInvokeError)
    assert isinstance(error.original, discord.NotFound)
    assert error.original.code == 10062
    assert rec.failures == [(404, 10062)]
    assert not rec.acknowledged
    with pytest.raises(TimeoutError):
        await rec.wait_acknowledged(timeout=0.05)


async def test_second_acknowledgement_is_rejected(fake_discord: FakeDiscord) -> None:
    """Two processes on one token (e.g. a stale deployment) both answer: Discord accepts only one."""
    results: list[str] = []

    def make_bot() -> SampleBot:
        bot = SampleBot(fake_discord)

        @bot.tree.command(name="ping", description="pong")
        async def ping(interaction: discord.Interaction) -> None:
            try:
                await interaction.response.send_message("pong")
            except discord.HTTPException as e:
                results.append(f"{e.status}/{e.code}: {e.text}")
            else:
                results.append("ok")

        return bot

    await start_client(make_bot(), fake_discord)
    await start_client(make_bot(), fake_discord)
    rec = await fake_discord.slash("ping")
    await fake_discord.wait_for(lambda: len(results) == 2)
    assert sorted(results) == ["400/40060: Interaction has already been acknowledged.", "ok"]
    assert rec.failures == [(400, 40060)]
    assert len([m for m in fake_discord.channel_messages() if m.content == "pong"]) == 1


async def test_token_expiry_breaks_webhook_but_not_channel_edits(fake_discord_factory) -> None:
    fake = await fake_discord_factory(token_lifetime=0.3)
    bot = SampleBot(fake)
    outcome: dict[str, object] = {}

    @bot.tree.command(name="long-job", description="outlives its interaction token")
    async def long_job(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("queued")
        original = await interaction.original_response()
        await asyncio.sleep(0.35)  # the moderated queue takes longer than the token lives
        try:
            await interaction.edit_original_response(content="done")
        except discord.HTTPException as e:
            outcome["webhook"] = (e.status, e.code)
        try:
            await interaction.followup.send("done")
        except discord.HTTPException as e:
            outcome["followup"] = (e.status, e.code)
        # a normal channel edit of the (non-ephemeral) response still works
        await interaction.channel.get_partial_message(original.id).edit(content="done (via channel)")  # type: ignore[union-attr]
        outcome["channel"] = "ok"

    await start_client(bot, fake)
    rec = await fake.slash("long-job")
    await fake.wait_for(lambda: "channel" in outcome)
    assert outcome == {"webhook": (401, 50027), "followup": (401, 50027), "channel": "ok"}
    assert rec.original_message is not None
    assert rec.original_message.content == "done (via channel)"
    assert fake.calls("PATCH", "/webhooks/*/@original")[0].response["message"] == "Invalid Webhook Token"


async def test_autocomplete_choices(fake_discord: FakeDiscord) -> None:
    bot = SampleBot(fake_discord)
    await start_client(bot, fake_discord)

    rec = await fake_discord.autocomplete("style", {"name": "a"})
    await rec
    assert rec.response_type == 8
    assert rec.choices == [
        {"name": "Anime", "value": "anime"},
        {"name": "Pixel-Art", "value": "pixel-art"},
        {"name": "Watercolor", "value": "watercolor"},
    ]
    focused = rec.payload["data"]["options"][0]
    assert focused == {"name": "name", "type": 3, "value": "a", "focused": True}

    chosen = await fake_discord.slash("style", {"name": "anime"})
    await chosen
    assert chosen.response is not None
    assert chosen.response["data"]["content"] == "style set to anime"
    assert chosen.original_message is not None
    assert chosen.original_message.ephemeral


async def test_modal_round_trip(fake_discord: FakeDiscord) -> None:
    bot = SampleBot(fake_discord)
    await start_client(bot, fake_discord)

    opener = await fake_discord.slash("feedback")
    await opener
    assert opener.response_type == 9
    assert opener.modal is not None
    assert opener.modal["title"] == "Feedback"

    with pytest.raises(ValueError, match="required"):
        await fake_discord.modal_submit("feedback", {"comment": "no rating"})
    submit = await fake_discord.modal_submit("feedback", {"rating": "9", "comment": "nice"})
    await submit
    assert submit.response_type == 4
    assert submit.original_message is not None
    assert submit.original_message.content == "thanks: 9/nice"


async def test_slash_helper_checks_options_like_discords_client(fake_discord: FakeDiscord) -> None:
    bot = SampleBot(fake_discord)
    await start_client(bot, fake_discord)
    with pytest.raises(ValueError, match="required options missing"):
        await fake_discord.slash("imagine", {})
    with pytest.raises(ValueError, match="above max_value"):
        await fake_discord.slash("imagine", {"prompt": "x", "steps": 11})
    with pytest.raises(ValueError, match="no option"):
        await fake_discord.slash("imagine", {"prompt": "x", "seed": 1})
    with pytest.raises(LookupError, match="never synced"):
        await fake_discord.slash("unknown")


async def test_original_response_and_followup_lifecycle(fake_discord: FakeDiscord) -> None:
    bot = SampleBot(fake_discord)
    seen: dict[str, object] = {}

    @bot.tree.command(name="lifecycle", description="every webhook route once")
    async def lifecycle(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("first")
        original = await interaction.original_response()  # GET @original
        seen["original"] = original.content
        await interaction.edit_original_response(content="first, edited")  # PATCH @original
        followup = await interaction.followup.send("second", wait=True)
        await followup.edit(content="second, edited")  # PATCH /messages/{id}
        seen["followup"] = (await interaction.followup.fetch_message(followup.id)).content
        await followup.delete()  # DELETE /messages/{id}
        await interaction.delete_original_response()  # DELETE @original
        try:
            await interaction.followup.fetch_message(original.id)  # original_response() is cached
        except discord.NotFound as e:
            seen["after_delete"] = e.code

    await start_client(bot, fake_discord)
    rec = await fake_discord.slash("lifecycle")
    await fake_discord.wait_for(lambda: "after_delete" in seen or bot.app_errors)
    assert bot.app_errors == []
    assert seen == {"original": "first", "followup": "second, edited", "after_delete": 10008}
    assert rec.original_message is not None
    assert rec.original_message.deleted
    assert rec.original_message.content == "first, edited"
    assert [(m.content, m.deleted) for m in rec.followups] == [("second, edited", True)]


async def test_select_menu(fake_discord: FakeDiscord) -> None:
    bot = SampleBot(fake_discord)
    picked: list[list[str]] = []

    class Picker(discord.ui.View):
        @discord.ui.select(
            custom_id="sampler", options=[discord.SelectOption(label=s) for s in ("euler", "dpm")]
        )
        async def sampler(self, interaction: discord.Interaction, select: discord.ui.Select[Picker]) -> None:
            picked.append(select.values)
            await interaction.response.defer()

    @bot.tree.command(name="settings", description="pick a sampler")
    async def settings(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("choose", view=Picker(timeout=None))

    await start_client(bot, fake_discord)
    await (await fake_discord.slash("settings"))
    with pytest.raises(ValueError, match="use click"):
        await fake_discord.click("sampler")
    rec = await fake_discord.select("sampler", ["dpm"])
    await rec
    assert rec.response_type == 6  # DEFERRED_UPDATE_MESSAGE
    assert picked == [["dpm"]]


async def test_mentions_reach_a_bot_without_message_content_intent(fake_discord: FakeDiscord) -> None:
    bot = SampleBot(fake_discord)
    contents: list[str] = []

    async def on_message(message: discord.Message) -> None:
        contents.append(message.content)

    bot.add_listener(on_message)
    await start_client(bot, fake_discord)
    await fake_discord.post_message("not for the bot")
    await fake_discord.post_message(f"{fake_discord.bot_user.mention} sync")
    await wait_until(lambda: len(contents) == 2)
    assert contents == ["", f"{fake_discord.bot_user.mention} sync"]
