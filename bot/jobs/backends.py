"""The pool of ComfyUI backends: health, capabilities, in-flight slots, and choosing where a job runs.

A backend is healthy while its websocket is up and ``/system_stats`` answers. Its capabilities (which
templates it can run, and why not) come from the template pre-flight over its ``/object_info``,
refreshed after every reconnect because a restarted ComfyUI may have other models. Each backend keeps
a few prompts in flight so the next one already waits inside ComfyUI when the current one finishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.comfy import ComfyClient
from bot.comfy.protocol import Status
from bot.errors import ComfyError

log = logging.getLogger(__name__)

CapabilityCheck = Callable[[Mapping[str, Any]], Mapping[str, Sequence[str]]]
"""object_info -> {template name: reasons it cannot run (empty when it can)}."""


@dataclass(eq=False)
class Backend:
    """One ComfyUI server as the scheduler sees it."""

    client: ComfyClient
    capacity: int
    in_flight: set[str] = field(default_factory=set)
    stats_ok: bool = False
    problems: dict[str, list[str]] = field(default_factory=dict)
    capable: frozenset[str] = frozenset()
    object_info: Mapping[str, Any] | None = None
    queue_remaining: int = 0
    abandoned: set[str] = field(default_factory=set)
    """Prompts given up on while the server did not answer; stopped there once it answers again."""

    @property
    def name(self) -> str:
        """The stable key jobs store (the address): for storage, logs and metrics, never for members."""
        return self.client.name

    @property
    def display_name(self) -> str:
        """What members read ("GPU 1", or the name from COMFYUI_NAMES)."""
        return self.client.display_name

    @property
    def healthy(self) -> bool:
        return self.client.connection.connected and self.stats_ok

    @property
    def free_slots(self) -> int:
        return max(0, self.capacity - len(self.in_flight))

    def can_run(self, template: str) -> bool:
        return template in self.capable


class BackendPool:
    """Owns the backends' clients and the task that keeps their health and capabilities current."""

    def __init__(
        self,
        clients: Iterable[ComfyClient],
        *,
        capacity: int = 2,
        capability_check: CapabilityCheck,
        probe_interval: float = 15.0,
    ) -> None:
        self.backends = [Backend(client, capacity) for client in clients]
        self._check = capability_check
        self._probe_interval = probe_interval
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._connects_seen: dict[str, int] = {}

    # --- lifecycle -------------------------------------------------------------------------------------

    async def start(self) -> None:
        for backend in self.backends:
            backend.client.connection.add_listener(self._listener(backend))
            backend.client.start()
            self._tasks.append(asyncio.create_task(self._probe_loop(backend), name=f"probe-{backend.name}"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for backend in self.backends:
            await backend.client.close()

    def _listener(self, backend: Backend) -> Callable[[Status | None], None]:
        def on_status(status: Status | None) -> None:
            if status is None:
                backend.stats_ok = False
            else:
                backend.queue_remaining = status.queue_remaining
            self.notify()

        return on_status

    async def _probe_loop(self, backend: Backend) -> None:
        while True:
            try:
                await self.probe(backend)
            except Exception:
                # Whatever went wrong (a capability check choking on odd object_info, ...), the
                # backend must keep being watched: count it as down and look again.
                log.exception("backend %s: probe failed", backend.name)
                backend.stats_ok = False
                self.notify()
            await asyncio.sleep(self._probe_interval if backend.healthy else min(2.0, self._probe_interval))

    async def probe(self, backend: Backend) -> None:
        """Refresh health, and capabilities when the backend (re)connected since the last look."""
        was_healthy = backend.healthy
        try:
            await backend.client.http.system_stats()
            backend.stats_ok = True
            connects = backend.client.connection.connects
            if backend.object_info is None or self._connects_seen.get(backend.name) != connects:
                self._connects_seen[backend.name] = connects
                self.set_object_info(backend, await backend.client.http.object_info())
            if backend.abandoned:
                await self._stop_abandoned(backend)
        except ComfyError as exc:
            backend.stats_ok = False
            if was_healthy:
                log.warning("backend %s unhealthy: %s", backend.name, exc)
        if backend.healthy != was_healthy:
            log.info("backend %s is now %s", backend.name, "healthy" if backend.healthy else "down")
            self.notify()

    async def _stop_abandoned(self, backend: Backend) -> None:
        """The server answers again: stop prompts of jobs that were moved elsewhere while it did not."""
        prompts = sorted(backend.abandoned)
        await backend.client.http.delete_pending(prompts)
        for prompt_id in prompts:
            await backend.client.http.interrupt(prompt_id)
            backend.abandoned.discard(prompt_id)
        log.info("backend %s: stopped %d prompt(s) of jobs that moved elsewhere", backend.name, len(prompts))

    def set_object_info(self, backend: Backend, object_info: Mapping[str, Any]) -> None:
        backend.object_info = object_info
        backend.problems = {name: list(reasons) for name, reasons in self._check(object_info).items()}
        backend.capable = frozenset(name for name, reasons in backend.problems.items() if not reasons)
        self.notify()

    # --- wake-ups -------------------------------------------------------------------------------------

    def notify(self) -> None:
        """Something changed that may let a waiting job run (health, a freed slot, capabilities)."""
        self._changed.set()

    async def wait_changed(self) -> None:
        await self._changed.wait()
        self._changed.clear()

    # --- choosing ---------------------------------------------------------------------------------------

    def get(self, name: str) -> Backend | None:
        return next((b for b in self.backends if b.name == name), None)

    def display_name(self, key: str | None) -> str | None:
        """The member-facing name of the backend a job stores as ``key``; None for none, or one no
        longer configured (its address must not stand in for the name)."""
        backend = self.get(key) if key else None
        return backend.display_name if backend is not None else None

    def capable_slots(self, template: str) -> int:
        return sum(b.capacity for b in self.backends if b.healthy and b.can_run(template))

    def why_waiting(self, template: str) -> str | None:
        """Why a job of ``template`` cannot start now, in words for the member; None if it can."""
        healthy = [b for b in self.backends if b.healthy]
        if not self.backends:
            return "No image server is configured; your job stays queued."
        if not healthy:
            down = _listed(b.display_name for b in self.backends)
            verb, back = ("is", "it is") if len(self.backends) == 1 else ("are", "one is")
            return f"{down} {verb} not answering right now; your job stays queued until {back} back."
        able = [b for b in healthy if b.can_run(template)]
        if not able:
            reasons = sorted({r for b in healthy for r in b.problems.get(template, [])})
            detail = f" ({reasons[0]})" if reasons else ""
            text = f"{_listed(b.display_name for b in healthy)} cannot run `{template}` right now{detail}"
            silent = [b.display_name for b in self.backends if not b.healthy]
            if silent:
                text += f", and {_listed(silent)} {'is' if len(silent) == 1 else 'are'} not answering"
            return text + "; your job stays queued."
        return None  # merely busy: the position and ETA say enough

    def snapshot(self) -> list[dict[str, Any]]:
        return [
            {
                "name": b.name,
                "display_name": b.display_name,
                "healthy": b.healthy,
                "in_flight": len(b.in_flight),
                "capacity": b.capacity,
                "templates": sorted(b.capable),
            }
            for b in self.backends
        ]


def _listed(names: Iterable[str]) -> str:
    """Names joined for a sentence: A; A and B; A, B and C."""
    items = list(names)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
