"""Routes of the Discord API the bot can use that no other e2e test drives (the development guild's
command sync, commands run in a DM, an autocomplete with more results than Discord shows), and the bot's
own bodies broken on purpose. Every request and answer of every test is checked against Discord's OpenAPI
spec by the fake (issue 19)."""

from __future__ import annotations

import copy
import fnmatch
from typing import Any

import aiohttp
import pytest

from bot.jobmodel.states import JobState
from tests.e2e.harness import TOKEN, BotUnderTest, job_id_of, private_reply, status_of

LONG = "a-checkpoint-whose-name-goes-on-" + "and-on-" * 16 + ".safetensors"  # 156 characters


async def test_a_development_guild_gets_the_commands_at_once_and_nothing_global(
    make_bot: Any, fake_discord_factory: Any
) -> None:
    fake = await fake_discord_factory()
    bot = await make_bot(fake=fake, env={"DEV_GUILD_ID": fake.guild.id})
    assert bot.app.bot.synced == "guild"
    [sync] = fake.calls("PUT", "/applications/*/commands*")
    assert sync.operation == "bulk_set_guild_application_commands"
    assert fake.global_commands == []
    names = {c["name"] for c in fake.guild_commands()}
    assert {"imagine", "queue", "help", "mod"} <= names
    assert all(c["guild_id"] == fake.guild.id for c in fake.guild_commands())

    record = await fake.slash("imagine", {"prompt": "a lighthouse", "steps": 2, "seed": 5})
    message = await status_of(fake, record)
    await bot.wait_job(job_id_of(message), JobState.DELIVERED)
    assert record.payload["data"]["guild_id"] == fake.guild.id  # invoked as the guild's own command


async def test_commands_in_a_direct_message(make_bot: Any) -> None:
    bot: BotUnderTest = await make_bot()
    fake = bot.fake
    dm = fake.dm_channel(fake.user)

    for name, expected in (("help", "/imagine"), ("templates", "/imagine")):
        record = await fake.slash(name, channel=dm)
        reply = await private_reply(fake, record)
        assert expected in reply.content
        assert reply.channel_id == dm.id
        assert record.payload["context"] == 1  # a bot DM: the user, no member
        assert "member" not in record.payload

    # the image commands are guild-only: Discord's client does not offer them in a DM
    imagine = fake.find_command("imagine")
    assert imagine is not None
    assert imagine["dm_permission"] is False
    with pytest.raises(LookupError, match="not offered in DMs"):
        await fake.slash("imagine", {"prompt": "a cat"}, channel=dm)


async def test_autocomplete_with_many_results_shows_discords_25(make_bot: Any, fake_comfy: Any) -> None:
    fake_comfy.checkpoints = [f"model-{i:02d}.safetensors" for i in range(40)] + [LONG]
    bot: BotUnderTest = await make_bot()
    fake = bot.fake

    record = await fake.autocomplete("imagine", {"prompt": "x", "sampler": ""}, focused="sampler")
    await record
    samplers = [c["value"] for c in record.choices]
    assert len(samplers) == 25  # of the backend's 40-odd samplers
    assert samplers[0] == "euler"

    record = await fake.autocomplete("imagine", {"prompt": "x", "checkpoint": "model"}, focused="checkpoint")
    await record
    assert [c["name"] for c in record.choices] == [f"model-{i:02d}.safetensors" for i in range(25)]

    record = await fake.autocomplete(
        "imagine", {"prompt": "x", "checkpoint": "goes-on"}, focused="checkpoint"
    )
    await record
    [choice] = record.choices  # Discord refuses names or values over 100 characters
    assert len(choice["name"]) <= 100
    assert len(choice["value"]) <= 100


async def test_bodies_the_bot_sent_broken_on_purpose_are_refused(make_bot: Any) -> None:
    """The bot's own command sync, result buttons and Edit form, each broken in one way Discord refuses:
    the fake answers 400/50035 at that field and records the violation (operation, JSON path, rule)."""
    bot: BotUnderTest = await make_bot()
    fake = bot.fake
    record = await fake.slash("imagine", {"prompt": "a red fox", "seed": 7, "steps": 2})
    message = await status_of(fake, record)
    job = await bot.wait_job(job_id_of(message), JobState.DELIVERED)
    click = await fake.click(f"cc:edit:{job.id}", fake.message(message.id))
    await click

    [sync] = fake.calls("PUT", "/applications/*/commands")
    commands = sync.json
    at = next(i for i, c in enumerate(commands) if c["name"] == "imagine")
    options = commands[at]["options"]
    prompt = next(j for j, o in enumerate(options) if o["name"] == "prompt")
    size = next(j for j, o in enumerate(options) if o.get("choices"))
    [opened] = fake.calls("POST", f"/interactions/{click.id}/*/callback")
    assert opened.json["type"] == 9
    result = next(
        c.json
        for c in reversed(fake.calls("PATCH", f"/webhooks/*/{record.token}/messages/@original"))
        if c.json.get("components")
    )
    assert result["components"][0]["components"][0]["type"] == 2  # a button row

    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {TOKEN}"}) as http:

        async def refused(method: str, path: str, body: Any) -> dict[str, Any]:
            async with http.request(method, fake.api_base + path, json=body) as response:
                answer = await response.json(content_type=None)
                assert (response.status, answer["code"]) == (400, 50035), answer
                return answer["errors"]

        cases: list[tuple[str, str, Any, str, str, str]] = []

        broken = copy.deepcopy(commands)
        broken[at]["options"][prompt]["description"] = "d" * 101
        cases.append(
            (
                "PUT",
                sync.path,
                broken,
                f"$[{at}].options[{prompt}].description",
                "maxLength: 100",
                "BASE_TYPE_BAD_LENGTH",
            )
        )
        broken = copy.deepcopy(commands)
        broken[at]["options"][size]["choices"] = [{"name": f"c{i}", "value": f"c{i}"} for i in range(26)]
        cases.append(
            (
                "PUT",
                sync.path,
                broken,
                f"$[{at}].options[{size}].choices",
                "maxItems: 25",
                "BASE_TYPE_MAX_LENGTH",
            )
        )
        broken = copy.deepcopy(commands)
        broken[at]["options"][prompt]["type"] = 12
        cases.append(
            ("PUT", sync.path, broken, f"$[{at}].options[{prompt}].type", "enum: *", "BASE_TYPE_CHOICES")
        )
        replay = fake.interaction_factory.component(
            fake.message(message.id), {"type": 2, "custom_id": f"cc:edit:{job.id}"}, user=fake.user
        )
        broken = copy.deepcopy(opened.json)
        broken["data"]["title"] = "t" * 46
        cases.append(
            (
                "POST",
                f"/interactions/{replay.id}/{replay.token}/callback",
                broken,
                "$.data.title",
                "maxLength: 45",
                "BASE_TYPE_BAD_LENGTH",
            )
        )
        broken = {"components": copy.deepcopy(result["components"])}
        broken["components"][0]["components"][0]["label"] = "L" * 81
        cases.append(
            (
                "POST",
                f"/channels/{fake.channel.id}/messages",
                broken,
                "$.components[0].components[0].label",
                "maxLength: 80",
                "BASE_TYPE_MAX_LENGTH",
            )
        )

        for method, path, body, json_path, rule, code in cases:
            errors = await refused(method, path, body)
            field = errors
            for part in json_path.replace("[", ".").replace("]", "").split(".")[1:]:
                field = field[part]
            assert field["_errors"][0]["code"] == code
            [violation] = fake.take_violations()
            assert violation.json_path == json_path
            assert fnmatch.fnmatchcase(violation.rule, rule)
            assert str(violation).startswith(f"{violation.operation} request {json_path}: ")
    assert [c["name"] for c in fake.global_commands] == [c["name"] for c in commands]  # nothing replaced
    assert not replay.acknowledged
