"""Holding a request on its way through the fake, so a test can act at an exact moment of a call.

``hold = fake.hold("PATCH /webhooks/*/messages/*")`` arms a hold for the next matching request (the
pattern is matched like an injected fault's: ``"METHOD /path-glob"``, path without ``/api/v10``). The
request waits, before anything happens to it, until the test calls ``hold.release()``;
``await hold.arrived.wait()`` tells the test it is there (``hold.request`` is its record) and
``await hold.handled.wait()`` that it was applied and answered. ``when=`` narrows a hold to requests
whose record (method, path, JSON body...) passes a test, e.g. one edit among many of one message.
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field

from .recording import RecordedRequest


@dataclass(eq=False)
class Hold:
    pattern: str
    when: Callable[[RecordedRequest], bool] | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    handled: asyncio.Event = field(default_factory=asyncio.Event)
    request: RecordedRequest | None = None
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    def matches(self, method: str, path: str, record: RecordedRequest) -> bool:
        want_method, sep, glob = self.pattern.partition(" ")
        if not sep:
            want_method, glob = "", self.pattern
        if want_method and want_method.upper() != method:
            return False
        return fnmatch.fnmatchcase(path, glob) and (self.when is None or self.when(record))

    def release(self) -> None:
        self._released.set()

    async def wait_released(self) -> None:
        await self._released.wait()


class Holds:
    """The armed holds of one fake; each catches one request."""

    def __init__(self) -> None:
        self.armed: list[Hold] = []
        self._caught: list[Hold] = []

    def arm(self, pattern: str, when: Callable[[RecordedRequest], bool] | None = None) -> Hold:
        hold = Hold(pattern, when)
        self.armed.append(hold)
        return hold

    def take(self, method: str, path: str, record: RecordedRequest) -> Hold | None:
        hold = next((h for h in self.armed if h.matches(method, path, record)), None)
        if hold is not None:
            self.armed.remove(hold)
            self._caught.append(hold)
            hold.request = record
            hold.arrived.set()
        return hold

    def release_all(self) -> None:
        """Let everything go (the fake is stopping): nothing may stay blocked."""
        for hold in (*self.armed, *self._caught):
            hold.release()
        self.armed.clear()
        self._caught.clear()
