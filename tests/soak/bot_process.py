"""The real bot in a process of its own, pointed at a fake Discord on loopback (test use only).

``python -m tests.soak.bot_process`` reads the usual settings from the environment plus
``FAKE_DISCORD_API`` and ``FAKE_DISCORD_GATEWAY``, sets discord.py's two class attributes to them
(the only change to discord.py, as in the test fixtures) and runs the App until SIGTERM. The soak
test kills it with SIGKILL at random moments; everything must come back from DATA_DIR.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import warnings

import yarl

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="'audioop' is deprecated", category=DeprecationWarning)
    import discord.gateway
    import discord.http

from bot.app import App
from bot.config import load_settings
from bot.logsetup import configure_logging


async def main() -> None:
    discord.http.Route.BASE = os.environ["FAKE_DISCORD_API"]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["FAKE_DISCORD_GATEWAY"])
    settings = load_settings(os.environ)
    configure_logging(settings.log_level, settings.log_format)
    app = App(settings, guild_ready_timeout=0.05)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await app.start()
    waiter = asyncio.create_task(stop.wait())
    runner = asyncio.ensure_future(app.wait())
    await asyncio.wait({waiter, runner}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    with contextlib.suppress(BaseException):
        runner.cancel()
    logging.getLogger(__name__).info("soak bot stopping")
    await app.stop()


if __name__ == "__main__":
    asyncio.run(main())
