"""Holding a request on its way through the fake, so a test can act at an exact moment of a call.

``hold = fake.hold("POST", "/prompt")`` arms a hold for the next matching request: the request waits
before the server handles it (``after=True``: after it was handled, before the answer goes out) until
the test calls ``hold.release()``. ``await hold.arrived.wait()`` tells the test the request is there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(eq=False)
class Hold:
    method: str
    path: str
    after: bool = False
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    handled: asyncio.Event = field(default_factory=asyncio.Event)
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    def matches(self, request: web.Request) -> bool:
        path = request.path.removeprefix("/api")
        return request.method == self.method and path == self.path

    def release(self) -> None:
        self._released.set()

    async def wait_released(self) -> None:
        await self._released.wait()


class Holds:
    """The armed holds of one fake, and the middleware that applies them (each hold catches one request)."""

    def __init__(self) -> None:
        self.armed: list[Hold] = []

    def arm(self, method: str, path: str, *, after: bool = False) -> Hold:
        hold = Hold(method.upper(), path, after)
        self.armed.append(hold)
        return hold

    def release_all(self) -> None:
        for hold in self.armed:
            hold.release()
        self.armed.clear()

    def middleware(self) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
        @web.middleware
        async def holding(request: web.Request, handler: Handler) -> web.StreamResponse:
            hold = next((h for h in self.armed if h.matches(request)), None)
            if hold is None:
                return await handler(request)
            self.armed.remove(hold)
            hold.arrived.set()
            if not hold.after:
                await hold.wait_released()
            response = await handler(request)
            hold.handled.set()
            if hold.after:
                await hold.wait_released()
            return response

        return holding
