"""One persistent websocket per backend, shared by every prompt sent to it.

The reader task connects with a stable client_id, asks for self-describing image frames, routes each
message to the watch of its prompt, and reconnects with back-off after a drop. ComfyUI registers only
the newest socket of a client_id and closing an older one unregisters the newer (transcript 16), so the
old socket is always closed completely before a new one is opened. After every (re)connect the in-flight
prompts are reconciled through ``/history`` and ``/queue``: messages sent during a gap are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from bot.comfy.endpoint import Endpoint
from bot.comfy.http import ComfyHttp, HistoryEntry
from bot.comfy.protocol import (
    MAX_FRAME_BYTES,
    Executing,
    ImageFrame,
    Progress,
    ProtocolError,
    ServerMessage,
    Status,
    TextFrame,
    feature_flags_message,
    parse_binary,
    parse_text,
)
from bot.comfy.retry import Backoff, Sleep
from bot.errors import BackendUnavailable, ComfyError, OriginForbidden

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The socket dropped; anything sent until the next connect is lost."""


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What ``/history`` and ``/queue`` say about a prompt after a (re)connect."""

    history: HistoryEntry | None = None
    in_queue: bool = False
    running: bool = False

    @property
    def missing(self) -> bool:
        return self.history is None and not self.in_queue


WatchItem = ServerMessage | ImageFrame | TextFrame | Disconnected | Reconciled


@dataclass(eq=False, slots=True)
class PromptWatch:
    """The queue of everything that concerns one prompt. Register it before ``POST /prompt``."""

    prompt_id: str
    items: asyncio.Queue[WatchItem] = field(default_factory=asyncio.Queue)
    submitted: bool = False

    async def next(self) -> WatchItem:
        return await self.items.get()


StatusListener = Callable[[Status | None], None]


class BackendConnection:
    """Owns the websocket and its reader task for one backend."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        endpoint: Endpoint,
        client_id: str,
        http: ComfyHttp,
        *,
        backoff: Backoff | None = None,
        sleep: Sleep = asyncio.sleep,
        heartbeat: float = 20.0,
    ) -> None:
        self._session = session
        self.endpoint = endpoint
        self.client_id = client_id
        self._http = http
        self._backoff = backoff or Backoff(base=0.5, cap=30.0)
        self._sleep = sleep
        self._heartbeat = heartbeat
        self._watches: dict[str, PromptWatch] = {}
        self._listeners: list[StatusListener] = []
        self._connected = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._reconcile_tasks: set[asyncio.Task[None]] = set()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        # Attribution state: which of our prompts is executing which node, and whether the message
        # just read was a `progress` (a legacy event-1 image belongs to the progress right before it).
        self._executing: tuple[str, str] | None = None
        self._last_progress: Progress | None = None
        self.connects = 0
        self.last_status: Status | None = None
        self.last_error: str | None = None
        self.forbidden = False

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"comfy-ws-{self.endpoint.name}")

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        tasks = [t for t in (self._task, *self._reconcile_tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float) -> None:  # noqa: ASYNC109 - a deadline, not a cancel scope
        """Wait for the socket; a prompt must never be sent before it is up."""
        if self._task is None:
            self.start()
        try:
            async with asyncio.timeout(timeout):
                await self._connected.wait()
        except TimeoutError:
            if self.forbidden:
                raise OriginForbidden("/ws", server=self.endpoint.display_name) from None
            raise BackendUnavailable(
                self.endpoint.name,
                self.last_error or "websocket not connected",
                server=self.endpoint.display_name,
            ) from None

    def add_listener(self, listener: StatusListener) -> None:
        """``listener(Status)`` on queue updates, ``listener(None)`` when the socket drops."""
        self._listeners.append(listener)

    # --- watches -----------------------------------------------------------------------------------

    def watch(self, prompt_id: str) -> PromptWatch:
        watch = self._watches.get(prompt_id)
        if watch is None:
            watch = self._watches[prompt_id] = PromptWatch(prompt_id)
        return watch

    def unwatch(self, prompt_id: str) -> None:
        self._watches.pop(prompt_id, None)

    @property
    def watched(self) -> int:
        return len(self._watches)

    # --- the reader ----------------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            try:
                ws = await self._session.ws_connect(
                    self.endpoint.ws_url(self.client_id),
                    headers=self.endpoint.auth.headers(),
                    max_msg_size=MAX_FRAME_BYTES + 1024,
                    heartbeat=self._heartbeat,
                    autoping=True,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
                )
            except aiohttp.WSServerHandshakeError as exc:
                # 403 is ComfyUI's origin check (a proxy adding a mismatching Origin header).
                self.forbidden = exc.status == 403
                self.last_error = f"websocket handshake refused with HTTP {exc.status}"
                level = logging.WARNING if attempt == 0 else logging.DEBUG
                log.log(level, "backend %s: %s (retrying with back-off)", self.endpoint.name, self.last_error)
                await self._sleep(self._backoff.delay(attempt))
                attempt += 1
                continue
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                self.last_error = f"websocket connect failed: {type(exc).__name__}"
                # One warning per outage, not one per retry.
                level = logging.WARNING if attempt == 0 else logging.DEBUG
                log.log(level, "backend %s: %s (retrying with back-off)", self.endpoint.name, self.last_error)
                await self._sleep(self._backoff.delay(attempt))
                attempt += 1
                continue
            attempt = 0
            await self._serve(ws)
            if not self._closing:
                await self._sleep(self._backoff.delay(0))

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self.connects += 1
        self.last_error = None
        self.forbidden = False
        self._executing = None
        self._last_progress = None
        try:
            await ws.send_str(feature_flags_message())
            self._connected.set()
            log.info("backend %s: websocket connected (connect #%d)", self.endpoint.name, self.connects)
            self._spawn_reconcile()
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    self._on_text(message.data)
                elif message.type == aiohttp.WSMsgType.BINARY:
                    self._on_binary(message.data)
                elif message.type == aiohttp.WSMsgType.ERROR:
                    self.last_error = f"websocket error: {type(ws.exception()).__name__}"
                    break
        except (aiohttp.ClientError, ConnectionError) as exc:
            self.last_error = f"websocket dropped: {type(exc).__name__}"
        finally:
            # Close fully before any reconnect with the same client_id (see the module docstring).
            await ws.close()
            self._ws = None
            self._connected.clear()
            if not self._closing:
                log.warning(
                    "backend %s: websocket closed (%s)", self.endpoint.name, self.last_error or "by server"
                )
                self.last_error = self.last_error or "websocket closed by the server"
                for watch in self._watches.values():
                    watch.items.put_nowait(Disconnected())
                self._notify(None)

    def _notify(self, status: Status | None) -> None:
        for listener in self._listeners:
            try:
                listener(status)
            except Exception:
                log.exception("status listener failed")

    def _route(self, prompt_id: str | None, item: WatchItem) -> None:
        watch = self._watches.get(prompt_id) if prompt_id is not None else None
        if watch is not None:
            watch.items.put_nowait(item)

    def _on_text(self, raw: str) -> None:
        try:
            message = parse_text(raw)
        except ProtocolError as exc:
            log.debug("backend %s: dropped malformed message: %s", self.endpoint.name, exc)
            return
        self._last_progress = message if isinstance(message, Progress) else None
        if message is None:
            return
        if isinstance(message, Status):
            self.last_status = message
            self._notify(message)
            return
        if isinstance(message, Executing):
            self._on_executing(message)
            return
        prompt_id = getattr(message, "prompt_id", None)
        self._route(prompt_id, message)

    def _on_executing(self, message: Executing) -> None:
        if message.prompt_id is None:
            # Sent to a socket that reconnected mid-run: it names the node but not the prompt.
            if self._executing is not None and message.node is not None:
                self._executing = (self._executing[0], message.node)
                self._route(self._executing[0], Executing(message.node, self._executing[0]))
            return
        self._executing = None if message.node is None else (message.prompt_id, message.node)
        self._route(message.prompt_id, message)

    def _on_binary(self, data: bytes) -> None:
        try:
            frame = parse_binary(data)
        except ProtocolError as exc:
            log.debug("backend %s: dropped malformed frame: %s", self.endpoint.name, exc)
            return
        if isinstance(frame, ImageFrame):
            if frame.prompt_id is None:
                progress, self._last_progress = self._last_progress, None
                if progress is None:
                    log.debug("backend %s: image frame with no progress before it", self.endpoint.name)
                    return
                frame = ImageFrame(frame.data, frame.mime, progress.prompt_id, progress.node)
            self._route(frame.prompt_id, frame)
        # Text frames are broadcast to every socket: only claim one while our prompt runs that node.
        elif (
            isinstance(frame, TextFrame)
            and self._executing is not None
            and self._executing[1] == frame.node_id
        ):
            self._route(self._executing[0], frame)

    # --- reconciliation ------------------------------------------------------------------------------

    def _spawn_reconcile(self) -> None:
        pending = [w for w in self._watches.values() if w.submitted]
        if not pending:
            return
        task = asyncio.create_task(self._reconcile(pending), name=f"comfy-reconcile-{self.endpoint.name}")
        self._reconcile_tasks.add(task)
        task.add_done_callback(self._reconcile_tasks.discard)

    async def _reconcile(self, watches: list[PromptWatch]) -> None:
        for watch in watches:
            try:
                watch.items.put_nowait(await self.reconcile(watch.prompt_id))
            except ComfyError as exc:
                log.warning(
                    "backend %s: reconcile of %s failed: %s", self.endpoint.name, watch.prompt_id, exc
                )

    async def reconcile(self, prompt_id: str) -> Reconciled:
        """Ask the backend where ``prompt_id`` is: done (history), queued or running, or gone."""
        history = await self._http.get_history(prompt_id)
        if history is not None:
            return Reconciled(history=history)
        queue = await self._http.get_queue()
        if queue.contains(prompt_id):
            return Reconciled(in_queue=True, running=queue.is_running(prompt_id))
        # It may have finished between the two reads.
        history = await self._http.get_history(prompt_id)
        return Reconciled(history=history)
