"""Running a real discord.py client against the fake.

The only change to discord.py is the pair of class attributes below, set through pytest's
``monkeypatch`` (restored after each test) — never anywhere else, and never in production code.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from typing import Any

import pytest
import yarl

with warnings.catch_warnings():
    # discord.py 2.7.1 imports the stdlib ``audioop`` module (voice), deprecated in Python 3.11-3.12;
    # under ``filterwarnings = error`` that import would fail the collection.
    warnings.filterwarnings("ignore", message="'audioop' is deprecated", category=DeprecationWarning)
    import discord
    import discord.gateway
    import discord.http

from .server import FakeDiscord

DEFAULT_TOKEN = "fake-token"


def point_discord_at(monkeypatch: pytest.MonkeyPatch, fake: FakeDiscord) -> None:
    """Sets ``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` to the fake (undone by monkeypatch)."""
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url))


async def start_client(
    client: discord.Client, fake: FakeDiscord, *, token: str = DEFAULT_TOKEN, timeout: float = 10.0
) -> asyncio.Task[None]:
    """Starts ``client`` (``client.start(token)`` as a task) and returns once it is ready.

    Construct the client with a small ``guild_ready_timeout`` (e.g. 0.05): discord.py waits that long
    after the last GUILD_CREATE before ``on_ready``. The client is closed when the fake stops, so a
    failing test cannot leak it; ``stop_client`` closes it earlier.
    """
    if fake.api_base != discord.http.Route.BASE:
        raise RuntimeError("discord.py is not pointed at this fake; use the fake_discord fixture")
    task = asyncio.create_task(client.start(token), name=f"discord-client-{id(client):x}")

    async def close() -> None:
        await stop_client(client, task)

    fake.on_stop(close)
    deadline = time.monotonic() + timeout
    while not client.is_ready():
        if task.done():
            task.result()  # raises the client's startup error (LoginFailure, PrivilegedIntentsRequired, ...)
            raise RuntimeError("client.start() returned before the client became ready")
        if time.monotonic() > deadline:
            await stop_client(client, task)
            raise TimeoutError(f"client not ready within {timeout}s (guild_ready_timeout too large?)")
        await asyncio.sleep(0.005)
    return task


async def stop_client(
    client: discord.Client, task: asyncio.Task[Any] | None = None, *, timeout: float = 5.0
) -> None:
    """Closes ``client`` and waits for its ``start`` task (idempotent)."""
    if not client.is_closed():
        await client.close()
    if task is not None and not task.done():
        await asyncio.wait_for(task, timeout)
