"""Owners for background tasks: every loop is restarted when it crashes, and health says how each is doing.

A loop that raises is logged at ERROR with a short reference id, then started again after a back-off
that grows with consecutive crashes and resets once the loop has run cleanly for a while. A loop that
keeps crashing is given up: it is marked failed and ``on_fatal`` is called, so the process stops
instead of running half alive behind a green health check. One-off tasks (a delivery, a retry timer)
are kept referenced until they end, and their failures are logged, never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

log = logging.getLogger(__name__)

LoopFactory = Callable[[], Awaitable[None]]


class LoopState(StrEnum):
    RUNNING = "running"
    RESTARTING = "restarting"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """How a crashed loop comes back: ``base * 2**n`` seconds (capped) after the n-th crash in a row;
    ``max_crashes`` crashes within ``window`` seconds give the loop up."""

    base: float = 0.2
    cap: float = 30.0
    max_crashes: int = 8
    window: float = 300.0
    healthy_after: float = 60.0
    """A loop that ran this long without crashing starts its back-off from ``base`` again."""


@dataclass(slots=True)
class LoopHealth:
    """What ``/healthz`` and tests see of one loop."""

    name: str
    critical: bool
    state: LoopState = LoopState.RUNNING
    restarts: int = 0
    last_error: str | None = None
    """The reference id and type of the last crash, e.g. ``"ref 1a2b3c4d: OperationalError"``."""
    crashes: list[float] = field(default_factory=list)


class Supervisor:
    """Starts named loops and one-off tasks, restarts loops that crash, and cancels everything on close."""

    def __init__(
        self,
        *,
        policy: RestartPolicy | None = None,
        on_fatal: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``on_fatal(reason)`` is called once a critical loop is given up (the App stops the process)."""
        self.policy = policy or RestartPolicy()
        self._on_fatal = on_fatal
        self._clock = clock
        self._sleep = sleep
        self._loops: dict[str, asyncio.Task[None]] = {}
        self.health: dict[str, LoopHealth] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    # --- starting work -------------------------------------------------------------------------------

    def loop(self, name: str, factory: LoopFactory, *, critical: bool = True) -> None:
        """Run ``factory()`` until it returns, starting it again whenever it raises.

        ``critical`` loops make the whole bot unhealthy while they are down, and stop it when given up.
        """
        if name in self._loops:
            raise ValueError(f"a loop named {name!r} is already supervised")
        self.health[name] = LoopHealth(name, critical)
        self._loops[name] = asyncio.create_task(self._keep(name, factory), name=name)

    def spawn(self, coro: Coroutine[Any, Any, object], *, name: str) -> asyncio.Task[Any]:
        """Run a one-off task; it is referenced until it ends, and a failure is logged with a reference."""
        task: asyncio.Task[Any] = asyncio.create_task(coro, name=name)
        if self._closed:
            task.cancel()
            return task
        self._tasks.add(task)
        task.add_done_callback(self._one_off_done)
        return task

    # --- health ----------------------------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Why the supervised work is not healthy (empty when it is)."""
        out = []
        for health in self.health.values():
            if not health.critical or health.state in (LoopState.RUNNING, LoopState.STOPPED):
                continue
            why = f" ({health.last_error})" if health.last_error else ""
            out.append(f"{health.name} is {health.state.value}{why}")
        return out

    # --- shutdown ------------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Cancel every loop and task and wait for them to end."""
        self._closed = True
        tasks = [*self._loops.values(), *self._tasks]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._loops.clear()
        self._tasks.clear()
        for health in self.health.values():
            if health.state is not LoopState.FAILED:
                health.state = LoopState.STOPPED

    # --- internals -----------------------------------------------------------------------------------------

    async def _keep(self, name: str, factory: LoopFactory) -> None:
        health = self.health[name]
        streak = 0
        while True:
            health.state = LoopState.RUNNING
            started = self._clock()
            try:
                await factory()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reference = secrets.token_hex(4)
                health.last_error = f"ref {reference}: {type(exc).__name__}"
                log.exception("background loop %s crashed ref=%s", name, reference)
            else:
                health.state = LoopState.STOPPED
                return
            now = self._clock()
            streak = 1 if now - started >= self.policy.healthy_after else streak + 1
            health.crashes = [t for t in health.crashes if now - t < self.policy.window] + [now]
            if len(health.crashes) >= self.policy.max_crashes:
                health.state = LoopState.FAILED
                reason = f"background loop {name} crashed {len(health.crashes)} times; giving up"
                log.critical("%s", reason)
                if health.critical and self._on_fatal is not None:
                    self._on_fatal(reason)
                return
            health.state = LoopState.RESTARTING
            health.restarts += 1
            await self._sleep(min(self.policy.cap, self.policy.base * 2 ** (streak - 1)))

    def _one_off_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            reference = secrets.token_hex(4)
            log.error("task %s failed ref=%s", task.get_name(), reference, exc_info=exc)
