"""Telling the bot's owners what went wrong with templates and command registration, by DM.

Templates belong to the whole bot, not to one server, so the owners (OWNER_IDS, else the application's
owner) hear about them in a direct message rather than in a server's mod-log. Messages wait in a queue
until the client is connected; one that cannot be delivered (DMs closed) is logged, and the same
problems are listed by ``/template list`` anyway. The problems the owners heard about are remembered, so
a restart does not repeat them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from typing import Final

import discord

from bot.jobs.template_manager import Reload
from bot.storage import MetaRepository
from bot.templates.model import Problem

log = logging.getLogger(__name__)

TOLD_KEY: Final = "templates.problems_told"
MAX_MESSAGE: Final = 2000
MAX_PROBLEMS: Final = 12


class OwnerNotices:
    """A queue of direct messages to the bot's owners, sent once the client is ready."""

    def __init__(self, client: discord.Client, owner_ids: frozenset[int], meta: MetaRepository) -> None:
        self._client = client
        self._owner_ids = owner_ids
        self._meta = meta
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self.sent: list[tuple[int, str]] = []
        """(owner id, text) of every message delivered (for the logs and tests)."""

    def tell(self, text: str) -> None:
        """Queue ``text`` for every owner (never blocks, never fails)."""
        self._queue.put_nowait(text[:MAX_MESSAGE])

    async def report(self, text: str) -> None:
        """``tell`` as a coroutine, for callbacks that await."""
        self.tell(text)

    async def run(self) -> None:
        """Deliver queued messages (a Supervisor loop)."""
        while not self._client.is_ready():  # noqa: ASYNC110 - wait_until_ready() refuses to run before login
            await asyncio.sleep(0.05)
        while True:
            text = await self._queue.get()
            for owner_id in await self._owners():
                await self._send(owner_id, text)

    async def _owners(self) -> Sequence[int]:
        if self._owner_ids:
            return sorted(self._owner_ids)
        application = self._client.application
        if application is not None and application.owner is not None:
            return [application.owner.id]
        return []

    async def _send(self, owner_id: int, text: str) -> None:
        try:
            user = self._client.get_user(owner_id) or await self._client.fetch_user(owner_id)
            await user.send(text, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as exc:
            log.warning(
                "could not tell owner %s about templates (code %s): %s", owner_id, exc.code, text[:200]
            )
            return
        self.sent.append((owner_id, text))

    # --- what templates say -------------------------------------------------------------------------

    async def templates_reloaded(self, reload: Reload) -> None:
        """Tell the owners about new template problems and fixed ones (a TemplateManager listener)."""
        digest = hashlib.sha256("\n".join(sorted(map(str, reload.problems))).encode()).hexdigest()
        told = await self._meta.get(TOLD_KEY)
        await self._meta.set(TOLD_KEY, digest)
        if reload.initial and told == digest:
            return  # the very problems the owners heard about before the restart
        if reload.new_problems:
            self.tell(problems_text(reload.new_problems, reload.kept))
        if reload.fixed_problems and not reload.new_problems:
            self.tell(
                "✅ The template problems I told you about are gone: "
                + "; ".join(f"`{p.file}`" for p in reload.fixed_problems[:MAX_PROBLEMS])
            )


def problems_text(problems: Sequence[Problem], kept: Sequence[str] = ()) -> str:
    """The owners' message about broken template files, and which templates keep their last good
    version meanwhile."""
    lines = ["⚠️ Problems in the workflows folder (`/template list` shows them too):"]
    lines += [
        f"• `{p.file}`{f' ({p.where})' if p.where else ''}: {p.message}" for p in problems[:MAX_PROBLEMS]
    ]
    if len(problems) > MAX_PROBLEMS:
        lines.append(f"… and {len(problems) - MAX_PROBLEMS} more.")
    if kept:
        shown = ", ".join(f"/{name}" for name in kept)
        lines.append(f"Still running their last good version meanwhile: {shown}.")
    text = "\n".join(lines)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
