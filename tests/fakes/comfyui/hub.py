"""Websocket registry and the single FIFO every server message goes through (PromptServer semantics)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import web

Message = tuple[str | bytes, str | None]
"""(serialized JSON text or a complete binary frame, target sid); sid None = every socket."""


class SocketHub:
    """`sockets` maps a client id to its *latest* socket; closing any socket pops its id (the real bug)."""

    def __init__(self) -> None:
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.metadata: dict[str, dict[str, Any]] = {}
        self.open_sockets: dict[web.WebSocketResponse, web.BaseRequest] = {}
        self.client_id: str | None = None
        """extra_data.client_id of the prompt executing (or executed last), like server.client_id."""
        self.last_node_id: str | None = None
        self._queue: asyncio.Queue[Message] = asyncio.Queue()
        self._publisher: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._publisher = asyncio.create_task(self._publish_loop(), name="fake-comfyui-publisher")

    async def stop(self) -> None:
        if self._publisher is not None:
            self._publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._publisher
            self._publisher = None
        for ws in list(self.open_sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"Server shutdown")
        self.sockets.clear()
        self.metadata.clear()
        self.client_id = None
        self.last_node_id = None

    def drop_all(self) -> None:
        """Abort every socket's TCP connection without a close frame."""
        for request in list(self.open_sockets.values()):
            if request.transport is not None:
                request.transport.abort()

    def supports_metadata(self, sid: str | None) -> bool:
        if sid is None or sid not in self.metadata:
            return False
        return self.metadata[sid].get("feature_flags", {}).get("supports_preview_metadata", False) is True

    def send(self, event: str, data: Any, sid: str | None) -> None:
        """send_sync of a JSON message: enqueued for the publisher (targets resolved when it is sent)."""
        self._queue.put_nowait((json.dumps({"type": event, "data": data}), sid))

    def send_frame(self, frame: bytes, sid: str | None) -> None:
        """send_sync of a binary frame (u32 event type + payload)."""
        self._queue.put_nowait((frame, sid))

    async def drain(self) -> None:
        """Wait until every enqueued message has been handed to the sockets."""
        await self._queue.join()

    async def send_now(self, event: str, data: Any, sid: str | None) -> None:
        """PromptServer.send of a JSON message, bypassing the queue (used by the websocket handler)."""
        await self._deliver(json.dumps({"type": event, "data": data}), sid)

    async def _deliver(self, data: str | bytes, sid: str | None) -> None:
        targets = (
            list(self.sockets.values()) if sid is None else [self.sockets[sid]] if sid in self.sockets else []
        )
        for ws in targets:
            # Like the server: a socket that went away is simply skipped.
            with contextlib.suppress(Exception):
                if isinstance(data, bytes):
                    await ws.send_bytes(data)
                else:
                    await ws.send_str(data)

    async def _publish_loop(self) -> None:
        while True:
            data, sid = await self._queue.get()
            try:
                await self._deliver(data, sid)
            finally:
                self._queue.task_done()
