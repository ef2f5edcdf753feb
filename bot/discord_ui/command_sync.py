"""Registering the slash commands with Discord: only when they changed, in one bulk call, within
Discord's limits, retried and reported.

Discord's rules (reference/discord-platform.md, application-commands.mdx): an application has at most
100 slash commands per scope (global, or each guild), and may create at most 200 new commands per
day per scope; a bulk overwrite (``PUT .../commands``, what ``tree.sync`` sends) counts only the
commands that did not exist before. Going over answers 429 with code 30034 and a retry-after of hours,
which discord.py would sleep through while the bot's commands stay stale. So the bot counts its own
creates (the names it had not registered before) over a rolling day, in the database, and never sends
a sync that would go over: it tells the owners when the next one fits and tries again then.

A sync is the whole command set in one request, so it is applied entirely or not at all. Changes
arriving close together (ten templates dropped into the folder) settle for ``settle`` seconds and
go in one request. A failed sync is retried with growing pauses and the owners are told once when it
starts failing and once when it works again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import discord
from discord import app_commands

from bot.errors import BotError
from bot.storage import MetaRepository

log = logging.getLogger(__name__)

COMMAND_HASH_KEY: Final = "discord.command_hash"
NAMES_KEY: Final = "discord.command_names"
CREATES_KEY: Final = "discord.command_creates"
DAY: Final = 24 * 3600.0
DAILY_CREATES: Final = 200
"""Discord's limit of new commands per day per scope."""

Report = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SyncPolicy:
    """How the bot registers commands; the defaults are Discord's limits and gentle pacing."""

    settle: float = 1.0
    """Seconds without a new change before a sync goes out (changes close together go in one)."""
    creates_per_day: int = DAILY_CREATES
    first_retry: float = 5.0
    max_retry: float = 600.0
    timeout: float = 60.0
    """A sync that takes longer is abandoned (and retried): discord.py would sleep through a long 429."""


class SyncPostponed(BotError):
    """A sync would break one of Discord's limits; ``retry_at`` (UNIX time) is when it fits, or None
    when only a change of the commands can make it fit."""

    def __init__(self, message: str, retry_at: float | None) -> None:
        super().__init__(f"Slash commands not updated: {message}.")
        self.message = message
        self.retry_at = retry_at


class CommandSync:
    """Keeps Discord's copy of the command tree in step with the bot's."""

    def __init__(
        self,
        tree: app_commands.CommandTree[Any],
        meta: MetaRepository,
        *,
        guild_id: int | None = None,
        policy: SyncPolicy | None = None,
        clock: Callable[[], float] = time.time,
        report: Report | None = None,
    ) -> None:
        """``guild_id``: sync to that guild (development: instant) instead of globally. ``report(text)``
        tells the owners about a sync that fails or has to wait."""
        self._tree = tree
        self._meta = meta
        self._guild = discord.Object(id=guild_id) if guild_id is not None else None
        self.policy = policy or SyncPolicy()
        self._clock = clock
        self._report = report
        self._lock = asyncio.Lock()
        self._wanted = asyncio.Event()
        self.syncs = 0
        """Bulk syncs sent to Discord by this process."""
        self.last_error: str | None = None

    @property
    def scope(self) -> str:
        return "global" if self._guild is None else f"guild:{self._guild.id}"

    def _key(self, base: str) -> str:
        return base if self._guild is None else f"{base}:{self.scope}"

    def _commands(self) -> list[dict[str, Any]]:
        if self._guild is not None:
            self._tree.clear_commands(guild=self._guild)  # copy_global_to only adds
            self._tree.copy_global_to(guild=self._guild)
        return [c.to_dict(self._tree) for c in self._tree.get_commands(guild=self._guild)]

    def digest(self) -> str:
        """A hash of the command set as it would be sent."""
        payload = json.dumps(self._commands(), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()

    # --- one sync ---------------------------------------------------------------------------------

    async def sync(self, *, force: bool = False) -> str:
        """Send the commands now if they changed (or ``force``): "unchanged", "global" or "guild".

        Raises SyncPostponed when Discord's limits do not allow it now, or what discord.py raised."""
        async with self._lock:
            stored = await self._meta.get(self._key(COMMAND_HASH_KEY))
            known = set(json.loads(await self._meta.get(self._key(NAMES_KEY)) or "[]"))
            now = self._clock()
            spent = await self._spent(now)
            # From here to the request, no await: what is counted is exactly what is sent (discord.py
            # builds the payload before its first await).
            commands = self._commands()
            digest = hashlib.sha256(json.dumps(commands, sort_keys=True).encode()).hexdigest()
            if not force and stored == digest:
                log.info("command set unchanged; not syncing")
                return "unchanged"
            # (discord.py's tree itself refuses a 101st command: see ComfyBot._add_template_command.)
            names = sorted({str(c["name"]) for c in commands})
            creates = len([n for n in names if n not in known])
            if creates and sum(n for _, n in spent) + creates > self.policy.creates_per_day:
                raise SyncPostponed(
                    f"registering {creates} new command(s) now would go over Discord's limit of "
                    f"{self.policy.creates_per_day} new commands a day",
                    _fits_at(spent, creates, self.policy.creates_per_day),
                )
            async with asyncio.timeout(self.policy.timeout):
                await self._tree.sync(guild=self._guild)
            self.syncs += 1
            if creates:
                # Counted first: a crash between these writes must not forget creates Discord counted.
                await self._meta.set(self._key(CREATES_KEY), json.dumps([*spent, [now, creates]]))
            await self._meta.set(self._key(NAMES_KEY), json.dumps(names))
            await self._meta.set(self._key(COMMAND_HASH_KEY), digest)
            log.info(
                "commands synced (%s): %d command(s), %d new; %d new in the last day",
                self.scope,
                len(commands),
                creates,
                sum(n for _, n in spent) + creates,
            )
            return "global" if self._guild is None else "guild"

    async def _spent(self, now: float) -> list[tuple[float, int]]:
        """Creates of the last day, as (when, how many)."""
        try:
            recorded = json.loads(await self._meta.get(self._key(CREATES_KEY)) or "[]")
            return [(float(at), int(n)) for at, n in recorded if now - float(at) < DAY]
        except (ValueError, TypeError):
            log.warning("the record of command creates is unreadable; counting a full day's worth")
            return [(now, self.policy.creates_per_day)]

    # --- in the background ----------------------------------------------------------------------

    def request(self) -> None:
        """The commands changed: sync once things settle (``run`` does it)."""
        self._wanted.set()

    async def run(self) -> None:
        """Sync whenever ``request`` was called, retrying failures (a Supervisor loop)."""
        while True:
            await self._wanted.wait()
            await self._settle()
            await self._sync_until_done()

    async def _settle(self) -> None:
        while True:
            self._wanted.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.policy.settle):
                    await self._wanted.wait()
                continue  # another change came: settle again
            return

    async def _sync_until_done(self) -> None:
        failures = 0
        while True:
            try:
                await self.sync()
            except SyncPostponed as postponed:
                await self._tell(f"⏳ Slash commands not updated yet: {postponed.message}.", postponed)
                if postponed.retry_at is None:
                    return  # the next change of the commands tries again
                await self._pause(max(1.0, postponed.retry_at - self._clock()))
                continue
            except Exception as exc:
                failures += 1
                self.last_error = _describe(exc)
                log.warning("command sync failed (attempt %d): %s", failures, self.last_error)
                if failures == 1:
                    await self._tell(
                        f"⚠️ Discord did not take the new slash commands ({self.last_error}); "
                        "retrying. Members see the old ones meanwhile."
                    )
                if _permanent(exc):
                    return  # Discord refuses this command set: a change of the templates must fix it
                delay = min(self.policy.first_retry * 2 ** (failures - 1), self.policy.max_retry)
                await self._pause(delay)
                continue
            if failures:
                await self._tell(f"✅ Slash commands updated after {failures + 1} attempts.")
            self.last_error = None
            return

    async def _pause(self, seconds: float) -> None:
        """Wait ``seconds``, or less if the commands change again (that sync goes at once)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wanted.wait()
        self._wanted.clear()

    async def _tell(self, text: str, postponed: SyncPostponed | None = None) -> None:
        if postponed is not None and postponed.retry_at is not None:
            text += f" Trying again <t:{int(postponed.retry_at)}:R>."
        log.warning("%s", text)
        if self._report is not None:
            try:
                await self._report(text)
            except Exception:
                log.exception("could not report a command sync problem")


def _fits_at(spent: list[tuple[float, int]], creates: int, limit: int) -> float | None:
    """When enough of the last day's creates have aged out for ``creates`` more."""
    if creates > limit:
        return None
    used = sum(n for _, n in spent)
    for at, count in sorted(spent):
        used -= count
        if used + creates <= limit:
            return at + DAY
    return None


def _permanent(exc: BaseException) -> bool:
    """Discord refused the commands themselves (400): sending them again cannot help."""
    return isinstance(exc, discord.HTTPException) and exc.status == 400


def _describe(exc: BaseException) -> str:
    if isinstance(exc, discord.HTTPException):
        return f"HTTP {exc.status}, code {exc.code}: {exc.text[:200]}"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return type(exc).__name__
