"""Counting what the bot sends to Discord, from the one place every request passes through.

discord.py sends every REST request (interaction responses and follow-ups included, through the same
session) with aiohttp, and takes an ``aiohttp.TraceConfig`` for that session (``http_trace``). A trace
sees each request as it was really sent, retries after a 429 included, without wrapping or patching
discord.py; the answer's status tells a rate limit apart.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Final, Protocol

import aiohttp

# Paths as discord.py sends them, after the "/api/v10" prefix; ids and tokens are not kept.
_KINDS: Final = (
    ("POST", re.compile(r"/interactions/[^/]+/[^/]+/callback$"), "response"),
    ("POST", re.compile(r"/webhooks/[^/]+/[^/]+$"), "followup"),
    ("PATCH", re.compile(r"/webhooks/[^/]+/[^/]+/messages/[^/]+$"), "edit"),
    ("DELETE", re.compile(r"/webhooks/[^/]+/[^/]+/messages/[^/]+$"), "delete"),
    ("POST", re.compile(r"/channels/\d+/messages$"), "send"),
    ("PATCH", re.compile(r"/channels/\d+/messages/\d+$"), "edit"),
    ("DELETE", re.compile(r"/channels/\d+/messages/\d+$"), "delete"),
    ("PUT", re.compile(r"/applications/\d+(/guilds/\d+)?/commands$"), "commands"),
)
_API_PREFIX: Final = re.compile(r"^/api(/v\d+)?")
TOO_MANY_REQUESTS: Final = 429


class DiscordCounters(Protocol):
    """What the trace reports to (``Metrics``)."""

    def discord_request(self, route_kind: str) -> None: ...

    def discord_rate_limited(self) -> None: ...


def route_kind(method: str, path: str) -> str:
    """A request's kind for the metrics: ``response``, ``followup``, ``send``, ``edit``, ``delete``,
    ``commands``, ``read`` (any GET) or ``other``."""
    path = _API_PREFIX.sub("", path)
    for want, pattern, kind in _KINDS:
        if method == want and pattern.search(path):
            return kind
    return "read" if method == "GET" else "other"


def discord_trace(counters: DiscordCounters) -> aiohttp.TraceConfig:
    """A trace for discord.py's ``http_trace`` option that counts every answered request and every 429."""

    async def on_request_end(
        session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        counters.discord_request(route_kind(params.method.upper(), params.url.path))
        if params.response.status == TOO_MANY_REQUESTS:
            counters.discord_rate_limited()

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_request_end)
    return trace
