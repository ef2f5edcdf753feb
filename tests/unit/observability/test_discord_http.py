"""The trace on discord.py's HTTP session: every answered request counted by kind, every 429 counted."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.observability import Metrics, discord_trace, route_kind
from tests.unit.observability.test_metrics import samples, value


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("POST", "/api/v10/interactions/123/aW50ZXJhY3Rpb24/callback", "response"),
        ("POST", "/api/v10/webhooks/42/aW50ZXJhY3Rpb24", "followup"),
        ("PATCH", "/api/v10/webhooks/42/aW50ZXJhY3Rpb24/messages/@original", "edit"),
        ("DELETE", "/api/v10/webhooks/42/aW50ZXJhY3Rpb24/messages/77", "delete"),
        ("POST", "/api/v10/channels/5/messages", "send"),
        ("PATCH", "/api/v10/channels/5/messages/9", "edit"),
        ("DELETE", "/api/v10/channels/5/messages/9", "delete"),
        ("PUT", "/api/v10/applications/42/guilds/7/commands", "commands"),
        ("PUT", "/api/v10/applications/42/commands", "commands"),
        ("GET", "/api/v10/users/@me", "read"),
        ("POST", "/api/v10/channels/5/typing", "other"),
    ],
)
def test_route_kinds(method: str, path: str, kind: str) -> None:
    assert route_kind(method, path) == kind


@pytest.fixture
async def server() -> AsyncIterator[str]:
    """A loopback server: 429 on the first edit of message 9, 200 on everything else."""
    limited = {"left": 1}

    async def edit(request: web.Request) -> web.Response:
        if limited["left"]:
            limited["left"] -= 1
            return web.json_response(
                {"message": "You are being rate limited.", "retry_after": 0.0}, status=429
            )
        return web.json_response({"id": "9"})

    async def send(request: web.Request) -> web.Response:
        return web.json_response({"id": "10"})

    app = web.Application()
    app.router.add_patch("/api/v10/channels/{channel}/messages/{message}", edit)
    app.router.add_post("/api/v10/channels/{channel}/messages", send)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/api/v10"
    await runner.cleanup()


async def test_the_trace_counts_requests_and_rate_limits(server: str) -> None:
    metrics = Metrics()
    async with aiohttp.ClientSession(trace_configs=[discord_trace(metrics)]) as session:
        for method, path in (("PATCH", "/channels/5/messages/9"), ("PATCH", "/channels/5/messages/9")):
            async with session.request(method, server + path) as response:
                await response.read()
        async with session.post(server + "/channels/5/messages", json={"content": "x"}) as response:
            await response.read()
    found = samples(metrics)
    assert value(found, "comfycord_discord_requests_total", kind="edit") == 2
    assert value(found, "comfycord_discord_requests_total", kind="send") == 1
    assert value(found, "comfycord_discord_rate_limited_total") == 1
