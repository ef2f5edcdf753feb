"""The fake held to Discord's OpenAPI spec: every route it serves is a spec operation, every answer of every
route matches the spec's response schema, and the fast check agrees with jsonschema."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.conformance import Conformance
from tests.fakes.discord.openapi import load_spec
from tests.fakes.discord.spec_gaps import KNOWN_GAPS, known_gap, strip_known_properties

PNG = b"\x89PNG\r\n\x1a\n not really"

COMMAND: dict[str, Any] = {
    "name": "imagine",
    "description": "Draw an image",
    "default_member_permissions": "8",
    "contexts": [0],
    "options": [
        {"type": 3, "name": "prompt", "description": "What to draw", "required": True, "max_length": 1500},
        {
            "type": 3,
            "name": "size",
            "description": "Size",
            "choices": [{"name": "Square", "value": "square"}],
        },
        {"type": 3, "name": "sampler", "description": "Sampler", "autocomplete": True},
        {"type": 4, "name": "steps", "description": "Steps", "min_value": 1, "max_value": 50},
        {"type": 10, "name": "cfg", "description": "CFG", "min_value": 1.0, "max_value": 15.0},
        {"type": 5, "name": "hires", "description": "Upscale"},
        {"type": 11, "name": "image", "description": "Init image"},
        {"type": 6, "name": "for", "description": "For someone"},
        {"type": 7, "name": "where", "description": "Channel", "channel_types": [0]},
        {"type": 8, "name": "role", "description": "Role"},
        {"type": 9, "name": "who", "description": "Anyone"},
    ],
}
GROUPED: dict[str, Any] = {
    "name": "mod",
    "description": "Moderation",
    "options": [
        {
            "type": 2,
            "name": "settings",
            "description": "Settings",
            "options": [{"type": 1, "name": "show", "description": "Show them"}],
        }
    ],
}
USER_MENU: dict[str, Any] = {"type": 2, "name": "Show jobs"}


def rows(prefix: str) -> list[dict[str, Any]]:
    """Components as discord.py writes them (``id: null`` emoji, ``required`` on a select)."""
    return [
        {
            "type": 1,
            "components": [
                {"type": 2, "style": 1, "custom_id": f"{prefix}:again", "emoji": {"name": "🔁", "id": None}},
                {"type": 2, "style": 2, "custom_id": f"{prefix}:edit", "label": "Edit", "disabled": False},
                {
                    "type": 2,
                    "style": 4,
                    "custom_id": f"{prefix}:custom",
                    "emoji": {"id": "123456789012345678", "name": "blob"},
                },
                {"type": 2, "style": 5, "label": "Docs", "url": "https://example.com/docs"},
            ],
        },
        {
            "type": 1,
            "components": [
                {
                    "type": 3,
                    "custom_id": f"{prefix}:pick",
                    "options": [{"label": "A", "value": "a"}, {"label": "B", "value": "b"}],
                    "min_values": 1,
                    "max_values": 1,
                    "required": True,
                }
            ],
        },
    ]


EMBED: dict[str, Any] = {
    "type": "rich",
    "title": "Result",
    "description": "a cat",
    "color": 0x5865F2,
    "fields": [{"name": "Steps", "value": "20", "inline": True}, {"name": "Seed", "value": "1"}],
    "footer": {"text": "job ABCD1234 · /imagine"},
    "author": {"name": "alice"},
    "image": {"url": "attachment://result.png"},
    "timestamp": "2026-01-01T00:00:00+00:00",
}


class Api:
    """Raw REST calls to the fake (every one must get the status it expects)."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        files: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
        status: int = 200,
        bot: bool = True,
        **query: Any,
    ) -> Any:
        headers = {"Authorization": "Bot fake-token"} if bot else {}
        data: Any = None
        if files:
            form = aiohttp.FormData()
            form.add_field("payload_json", json.dumps(body), content_type="application/json")
            for i, (name, content) in enumerate(files):
                form.add_field(f"files[{i}]", content, filename=name, content_type="application/octet-stream")
            data = form
        elif body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        params = {k: str(v) for k, v in query.items()}
        async with self.http.request(
            method, self.base + path, data=data, headers=headers, params=params
        ) as r:
            text = await r.text()
            assert r.status == status, f"{method} {path}: {r.status} {text}"
            return json.loads(text) if text else None


async def tour(fake: FakeDiscord) -> None:
    """At least one successful call of every route of the fake, and some of its error answers."""
    app, guild, channel, user = fake.application_id, fake.guild.id, fake.channel.id, fake.user
    async with aiohttp.ClientSession() as http:
        api = Api(http, fake.api_base)
        for path in ("/users/@me", "/oauth2/applications/@me", "/applications/@me", "/gateway/bot"):
            await api.call("GET", path)
        await api.call("GET", "/gateway", bot=False)

        # application commands, both scopes
        for scope in (f"/applications/{app}/commands", f"/applications/{app}/guilds/{guild}/commands"):
            stored = await api.call("PUT", scope, body=[COMMAND, GROUPED, USER_MENU])
            assert [c["name"] for c in stored] == ["imagine", "mod", "Show jobs"]
            await api.call("GET", scope, with_localizations="true")
            extra = await api.call("POST", scope, body={"name": "extra", "description": "More"})
            await api.call("GET", f"{scope}/{extra['id']}")
            await api.call("DELETE", f"{scope}/{extra['id']}", status=204)

        # users, guilds, channels
        await api.call("GET", f"/users/{user.id}")
        await api.call("GET", f"/guilds/{guild}", with_counts="true")
        for path in ("channels", "roles", f"members/{user.id}"):
            await api.call("GET", f"/guilds/{guild}/{path}")
        await api.call("GET", f"/channels/{channel}")
        dm = await api.call("POST", "/users/@me/channels", body={"recipient_id": user.id})
        await api.call("GET", f"/channels/{dm['id']}")
        await api.call("POST", f"/channels/{dm['id']}/messages", body={"content": "your job is done"})

        # messages
        first = await api.call(
            "POST",
            f"/channels/{channel}/messages",
            body={
                "content": "done",
                "embeds": [EMBED],
                "components": rows("a"),
                "attachments": [{"id": 0, "filename": "result.png", "description": "the result"}],
                "allowed_mentions": {"parse": []},
                "tts": False,
            },
            files=[("result.png", PNG)],
        )
        assert first["embeds"][0]["image"]["url"].startswith(fake.base_url)  # attachment:// resolved
        await api.call("POST", f"/channels/{channel}/typing", status=204)
        await api.call("GET", f"/channels/{channel}/messages", limit=10, before=int(first["id"]) + 1)
        await api.call("GET", f"/channels/{channel}/messages/{first['id']}")
        kept = [{"id": first["attachments"][0]["id"]}]
        await api.call(
            "PATCH",
            f"/channels/{channel}/messages/{first['id']}",
            body={"content": "edited", "embeds": [EMBED], "attachments": kept, "components": []},
        )
        await api.call("DELETE", f"/channels/{channel}/messages/{first['id']}", status=204)
        await api.call("GET", f"/channels/{channel}/messages/{first['id']}", status=404)
        await api.call("GET", "/users/@me", bot=False, status=401)
        fake.inject_errors("GET /gateway/bot", 429)
        await api.call("GET", "/gateway/bot", status=429)

        await interaction_tour(fake, api)


async def interaction_tour(fake: FakeDiscord, api: Api) -> None:
    factory, channel, user = fake.interaction_factory, fake.channel, fake.user
    command = fake.find_command("imagine", guild=fake.guild)

    def slash(**options: Any) -> Any:
        return factory.application_command(
            command, ["imagine"], options, channel=channel, user=user, attachments=None
        )

    def callback(rec: Any, body: Any, *, files: list[tuple[str, bytes]] = (), **query: Any) -> Any:  # type: ignore[assignment]
        return api.call(
            "POST", f"/interactions/{rec.id}/{rec.token}/callback", body=body, files=files, **query
        )

    hook = f"/webhooks/{fake.application_id}"

    # a "thinking" defer, a followup that replaces it, another one with a file, edits and deletes
    deferred = slash(prompt="a cat")
    answer = await callback(deferred, {"type": 5}, with_response=1)
    assert "resource" not in answer
    await api.call("POST", f"{hook}/{deferred.token}", body={"content": "queued"}, wait=1)
    followup = await api.call(
        "POST",
        f"{hook}/{deferred.token}",
        body={"content": "result", "attachments": [{"id": 0, "filename": "r.png"}], "flags": 64},
        files=[("r.png", PNG)],
        wait=1,
        with_components=1,
    )
    await api.call("POST", f"{hook}/{deferred.token}", body={"content": "no wait"}, status=204)
    await api.call("GET", f"{hook}/{deferred.token}/messages/@original")
    await api.call("PATCH", f"{hook}/{deferred.token}/messages/@original", body={"content": "edited"})
    for method, status in (("GET", 200), ("PATCH", 200), ("DELETE", 204)):
        body = {"content": "changed"} if method == "PATCH" else None
        await api.call(method, f"{hook}/{deferred.token}/messages/{followup['id']}", body=body, status=status)
    await api.call("DELETE", f"{hook}/{deferred.token}/messages/@original", status=204)

    # a message answer with components (and a file), then clicks: update, deferred update, a modal
    replied = slash(prompt="a dog")
    body = {"type": 4, "data": {"content": "here", "components": rows("b"), "embeds": [EMBED]}}
    body["data"]["attachments"] = [{"id": 0, "filename": "result.png"}]
    answer = await callback(replied, body, files=[("result.png", PNG)], with_response=1)
    message = fake.message(answer["resource"]["message"]["id"])
    clicked = factory.component(message, message.find_component("b:again") or {}, user=user)
    await callback(clicked, {"type": 7, "data": {"content": "again", "components": []}}, with_response=1)
    clicked = factory.component(message, {"type": 2, "custom_id": "b:edit"}, user=user)
    await callback(clicked, {"type": 6}, with_response=1)
    opened = slash(prompt="edit me")
    modal = {
        "custom_id": "edit:1",
        "title": "Edit the prompt",
        "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "p", "style": 2, "label": "Prompt"}]}
        ],
    }
    await callback(opened, {"type": 9, "data": modal}, with_response=1)
    submitted = factory.modal_submit(
        "edit:1", {"p": "a bird"}, channel=channel, user=user, definition=modal["components"], message=None
    )
    submitted.triggered_by = opened
    answer = await callback(submitted, {"type": 4, "data": {"content": "ok", "flags": 64}}, with_response=1)
    metadata = answer["resource"]["message"]["interaction_metadata"]
    assert metadata["triggering_interaction_metadata"]["id"] == opened.id

    # autocomplete, and a second acknowledgement of the same interaction (400/40060)
    typing = factory.application_command(
        command,
        ["imagine"],
        {"sampler": "eu"},
        channel=channel,
        user=user,
        attachments=None,
        focused="sampler",
    )
    await callback(
        typing, {"type": 8, "data": {"choices": [{"name": "euler", "value": "euler"}]}}, status=204
    )
    await callback(typing, {"type": 8, "data": {"choices": []}}, status=400)


async def test_every_route_of_the_fake_is_an_operation_of_the_spec(fake_discord: FakeDiscord) -> None:
    unmapped = [f"{r.method} {r.template}" for r in fake_discord.rest.router.routes if r.operation is None]
    assert unmapped == []


async def test_every_answer_of_every_route_matches_the_spec(fake_discord: FakeDiscord) -> None:
    await tour(fake_discord)
    assert fake_discord.violations == []  # (the fixture would fail the test too; this says where)
    answered = {r.operation for r in fake_discord.requests if r.operation and r.status < 300}
    served = {r.operation.operation_id for r in fake_discord.rest.router.routes if r.operation}
    assert served - answered == set()
    assert len(served) == 36
    errors = {(r.operation, r.status) for r in fake_discord.requests if r.status >= 400}
    assert errors == {
        ("get_message", 404),
        ("get_my_user", 401),
        ("get_bot_gateway", 429),
        ("create_interaction_response", 400),
    }


def _mutants(instance: Any, rng: random.Random, count: int) -> Iterator[Any]:
    """Broken variants: a value swapped for a wrong type or an over-long string, a key dropped or added."""
    nodes: list[tuple[Any, Any]] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            nodes.extend((node, k) for k in node)
            for v in node.values():
                collect(v)
        elif isinstance(node, list):
            nodes.extend((node, i) for i in range(len(node)))
            for v in node:
                collect(v)

    for _ in range(count):
        copy = json.loads(json.dumps(instance))
        nodes.clear()
        collect(copy)
        if not nodes:
            return
        parent, key = rng.choice(nodes)
        action = rng.randrange(4)
        if action == 0 and isinstance(parent, dict):
            del parent[key]
        elif action == 1 and isinstance(parent, dict):
            parent[f"zz_{key}"] = 1
        else:
            parent[key] = rng.choice([None, 0, -1, 3.5, True, "", "x" * 5000, "123", [], {}, {"type": 99}])
        yield copy


async def test_the_fast_check_agrees_with_jsonschema(fake_discord: FakeDiscord) -> None:
    """On everything the tour sent and answered, and on broken variants of it, the fast yes/no check and
    jsonschema give the same verdict (a disagreement would hide a violation or invent one)."""
    await tour(fake_discord)
    spec, rng, checked = load_spec(), random.Random(19), 0
    seen: dict[tuple[str, str], int] = {}
    for record in fake_discord.requests:
        operation = spec.find(record.method, record.route) if record.route else None
        if operation is None:
            continue
        cases = []
        if record.json is not None:
            cases.append(("request", spec.request_validator(operation), record.json))
        key = operation.response_key(record.status)
        if record.response is not None and key is not None:
            cases.append(("response", spec.response_validator(operation, key), record.response))
        for direction, validate, instance in cases:
            if validate is None or seen.get((operation.operation_id, direction), 0) >= 3:
                continue
            seen[(operation.operation_id, direction)] = seen.get((operation.operation_id, direction), 0) + 1
            for variant in [instance, *_mutants(instance, rng, 8)]:
                fast, slow = validate.is_valid(variant), not any(True for _ in validate.iter_errors(variant))
                assert fast == slow, (
                    f"{operation} {direction}: fast={fast} jsonschema={slow} on {variant!r:.400}"
                )
                checked += 1
    assert checked > 300


@pytest.mark.parametrize("gap", KNOWN_GAPS, ids=lambda g: g.name)
def test_each_allow_list_entry_says_why(gap: Any) -> None:
    assert len(gap.reason) > 60
    assert gap.paths
    assert gap.operations


def test_allow_listed_properties_are_taken_out_of_a_copy() -> None:
    body = [{"name": "a", "description": "d", "nsfw": False}, {"name": "b", "description": "d"}]
    stripped, hits = strip_known_properties("bulk_set_application_commands", body)
    assert stripped == [{"name": "a", "description": "d"}, {"name": "b", "description": "d"}]
    assert body[0]["nsfw"] is False  # the recorded body is untouched
    assert hits == ["command-nsfw"]
    assert strip_known_properties("create_message", body) == (body, [])
    assert known_gap("update_message", "request", ["tts"], "unknown property") is not None
    assert known_gap("create_message", "request", ["tts"], "unknown property") is None


def test_conformance_reports_operation_path_and_rule() -> None:
    conformance = Conformance()
    operation = conformance.operation("POST", "/channels/{channel_id}/messages")
    assert operation is not None
    long_label = {"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "x", "label": "L" * 81}]}
    [violation] = conformance.check_request(
        operation, query={}, body={"components": [long_label]}, has_body=True
    )
    assert str(violation).startswith(
        "create_message (POST /channels/{channel_id}/messages) request "
        "$.components[0].components[0].label: maxLength: 80"
    )
    assert (violation.code, violation.discord_message) == (
        "BASE_TYPE_MAX_LENGTH",
        "Must be 80 or fewer in length.",
    )
