"""Paced, coalesced edits of status messages.

Discord allows roughly five message edits per five seconds per channel, shared by every message in
it. Each job's pending edit is replaced by newer ones (only the latest state matters), each message
is edited at most once per ``interval``, and a per-channel token bucket spaces all edits in a
channel so many concurrent jobs never draw a 429. Final edits jump the queue and are never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

Edit = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class _Pending:
    edit: Edit
    final: bool
    low: bool = False


@dataclass(slots=True)
class _Channel:
    pending: OrderedDict[str, _Pending] = field(default_factory=OrderedDict)
    tokens: float = 0.0
    refilled_at: float = 0.0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class EditThrottle:
    """Schedules edits keyed by job; ``submit`` never waits."""

    def __init__(
        self,
        *,
        interval: float = 2.0,
        channel_burst: int = 4,
        channel_period: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self._burst = channel_burst
        self._rate = channel_burst / channel_period
        self._clock = clock
        self._started = clock()
        self._channels: dict[int, _Channel] = {}
        self._last_edit: dict[str, float] = {}
        self.sent = 0
        self.coalesced = 0
        self._closed = False

    def submit(
        self, channel_id: int, key: str, edit: Edit, *, final: bool = False, low: bool = False
    ) -> None:
        """Queue ``edit`` for the message ``key``; it replaces an unsent one (a final one stays final).

        ``low`` edits (e.g. queue positions) never replace a normal one and only use the channel's
        budget while it keeps a request in reserve for the others.
        """
        if self._closed:
            return
        channel = self._channel(channel_id)
        previous = channel.pending.get(key)
        if previous is not None:
            self.coalesced += 1
            if previous.final and not final:
                return  # never let progress overwrite an end state
            if low and not previous.low:
                return
        channel.pending[key] = _Pending(edit, final, low and not final)
        channel.wake.set()
        if channel.task is None or channel.task.done():
            channel.task = asyncio.create_task(self._drain(channel_id, channel), name=f"edits-{channel_id}")

    async def reserve(self, channel_id: int) -> None:
        """Take one request of the channel's budget for an edit made outside the queue (a delivery),
        waiting for it if need be: every request in a channel comes out of the same budget."""
        channel = self._channel(channel_id)
        while True:
            self._refill(channel, self._clock())
            if channel.tokens >= 1.0:
                channel.tokens -= 1.0
                return
            await asyncio.sleep((1.0 - channel.tokens) / self._rate)

    def _channel(self, channel_id: int) -> _Channel:
        channel = self._channels.get(channel_id)
        if channel is None:
            channel = self._channels[channel_id] = _Channel(
                tokens=float(self._burst), refilled_at=self._clock()
            )
        return channel

    def carry_over(self, channel_id: int) -> None:
        """The process before this one (a restart) used ``channel_id``, maybe up to its last request, and
        Discord's buckets outlive processes: count its budget as empty when this throttle started."""
        channel = self._channel(channel_id)
        now = self._clock()
        self._refill(channel, now)
        channel.tokens = min(channel.tokens, (now - self._started) * self._rate)

    def touch(self, key: str) -> None:
        """The message ``key`` was just edited outside the throttle; space the next edit from now."""
        if not self._closed:
            self._last_edit[key] = self._clock()

    def forget(self, key: str) -> None:
        """The message ``key`` needs no more edits (its job ended): drop what is still queued for it."""
        self._last_edit.pop(key, None)
        for channel in self._channels.values():
            channel.pending.pop(key, None)

    async def flush(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - a deadline for shutdown
        """Wait until every queued edit has been sent (used on shutdown and in tests)."""
        tasks = [c.task for c in self._channels.values() if c.task is not None and not c.task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    async def close(self) -> None:
        self._closed = True
        for channel in self._channels.values():
            if channel.task is not None:
                channel.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await channel.task

    # --- the per-channel worker -------------------------------------------------------------------

    def _refill(self, channel: _Channel, now: float) -> None:
        channel.tokens = min(self._burst, channel.tokens + (now - channel.refilled_at) * self._rate)
        channel.refilled_at = now

    def _choose(self, channel: _Channel, now: float) -> tuple[str | None, float]:
        """The key to send next and how long to wait for it (finals first, then the stalest)."""
        best: str | None = None
        best_ready = float("inf")
        low: str | None = None
        low_ready = float("inf")
        for key, item in channel.pending.items():
            if item.final:
                return key, 0.0
            ready = self._last_edit.get(key, -1e9) + self.interval - now
            if item.low:
                if ready < low_ready:
                    low, low_ready = key, ready
            elif ready < best_ready:
                best, best_ready = key, ready
        if low is not None:
            # Keep one request of the budget for normal edits (when the budget has room for two).
            reserve = min(2.0, float(self._burst))
            low_ready = max(low_ready, (reserve - channel.tokens) / self._rate)
            if best is None or low_ready < max(0.0, best_ready):
                return low, max(0.0, low_ready)
        return best, max(0.0, best_ready)

    async def _drain(self, channel_id: int, channel: _Channel) -> None:
        while channel.pending:
            now = self._clock()
            self._refill(channel, now)
            key, wait = self._choose(channel, now)
            if key is None:
                return
            if channel.tokens < 1.0:
                wait = max(wait, (1.0 - channel.tokens) / self._rate)
            if wait > 0:
                channel.wake.clear()
                # A newer (e.g. final) edit may arrive meanwhile and change the choice.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await channel.wake.wait()
                continue
            item = channel.pending.pop(key)
            channel.tokens -= 1.0
            self._last_edit[key] = self._clock()
            try:
                await item.edit()
                self.sent += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("status edit failed (channel %s, %s)", channel_id, key)
