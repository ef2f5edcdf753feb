"""FakeComfyUI: an aiohttp server on 127.0.0.1 that behaves like ComfyUI 0.3.64 (see tests/data/comfyui)."""

from __future__ import annotations

import asyncio
import datetime
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from .executor import ArmedFailure, ExecutionRecord, Executor
from .holds import Hold, Holds
from .hub import SocketHub
from .prompt_queue import PromptQueue
from .routes import Routes
from .server_log import log_entries
from .settings import FakeSettings
from .storage import Storage


class _Knob:
    """Exposes one FakeSettings field as a read/write attribute of the fake."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: FakeComfyUI | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return getattr(obj.settings, self.name)

    def __set__(self, obj: FakeComfyUI, value: Any) -> None:
        setattr(obj.settings, self.name, value)


class FakeComfyUI:
    """Fake ComfyUI server for tests and benchmarks.

    `async with FakeComfyUI(step_delay=0.01) as fake:` then talk to `fake.base_url` with any HTTP/websocket
    client. Every FakeSettings field is a constructor keyword and a live attribute.
    """

    step_delay = _Knob()
    previews = _Knob()
    preview_size = _Knob()
    time_scale = _Knob()
    decode_scale = _Knob()
    video_crf = _Knob()
    max_upload_size = _Knob()
    upload_delay = _Knob()
    fail_next_prompts = _Knob()
    checkpoints = _Knob()
    loras = _Knob()
    vaes = _Knob()
    unets = _Knob()
    clips = _Knob()
    upscale_models = _Knob()
    configs = _Knob()
    device = _Knob()

    def __init__(self, *, root_dir: Path | str | None = None, port: int = 0, **settings: Any) -> None:
        self.settings = FakeSettings(**settings)
        self.host = "127.0.0.1"
        self._port = port
        self._owns_root = root_dir is None
        root = (
            Path(root_dir)
            if root_dir is not None
            else Path(tempfile.gettempdir()) / f"fake-comfyui-{uuid.uuid4().hex}"
        )
        self.storage = Storage(root.resolve())
        self.executions: list[ExecutionRecord] = []
        """Every prompt the worker took: (prompt_id, started_at, ended_at, outcome), time.monotonic()."""
        self.prompt_requests: list[Any] = []
        self.views: list[str] = []
        """The file name of every GET /view, in order."""
        """Every JSON body POSTed to /prompt (including rejected ones), as received."""
        self.failures: dict[str, ArmedFailure] = {}
        self.number = 0
        self._history: dict[str, dict[str, Any]] = {}
        self._runner: web.AppRunner | None = None
        self._started_at = datetime.datetime.now()
        self.hub = SocketHub()
        self.queue = PromptQueue(self._broadcast_status)
        self.executor = Executor(self, self.hub, self.queue, self.executions, self.failures)
        self.holds = Holds()

    # -- lifecycle --------------------------------------------------------------------------------------

    async def __aenter__(self) -> FakeComfyUI:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        """Start listening (an ephemeral port the first time, the same port after a restart)."""
        if self._runner is not None:
            raise RuntimeError("FakeComfyUI is already running")
        self.storage.prepare()
        self._started_at = datetime.datetime.now()
        self.number = 0
        self.hub = SocketHub()
        self.hub.start()
        self.queue = PromptQueue(self._broadcast_status)
        self.queue.history = self._history
        self.executor = Executor(self, self.hub, self.queue, self.executions, self.failures)
        self.executor.start()
        runner = web.AppRunner(
            Routes(self).build_app(), handle_signals=False, access_log=None, shutdown_timeout=2.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            await self._stop_tasks()
            raise
        self._runner = runner
        self._port = runner.addresses[0][1]

    async def stop(self) -> None:
        """Close every socket, drop queued and running prompts, stop listening, remove an owned temp root."""
        await self._shutdown()
        if self._owns_root:
            shutil.rmtree(self.storage.root, ignore_errors=True)

    async def restart(self, *, keep_history: bool = False) -> None:
        """Stop and start again on the same port: pending/running prompts and caches are lost, input and
        output files survive (temp/ is wiped), the prompt counter restarts at 0."""
        history = self.queue.history if keep_history else {}
        await self._shutdown()
        self._history = history
        await self.start()

    async def _shutdown(self) -> None:
        self.holds.release_all()
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        self._history = self.queue.history
        await self._stop_tasks()
        await runner.cleanup()

    async def _stop_tasks(self) -> None:
        await self.executor.stop()
        await self.hub.stop()

    # -- addresses and state ----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self._port}"

    def ws_url(self, client_id: str | None = None) -> str:
        return f"ws://{self.host}:{self._port}/ws" + (f"?clientId={client_id}" if client_id else "")

    @property
    def input_dir(self) -> Path:
        return Path(self.storage.input_dir)

    @property
    def output_dir(self) -> Path:
        return Path(self.storage.output_dir)

    @property
    def temp_dir(self) -> Path:
        return Path(self.storage.temp_dir)

    @property
    def history(self) -> dict[str, dict[str, Any]]:
        """The live history dict (prompt_id -> entry), in completion order."""
        return self.queue.history

    @property
    def client_ids(self) -> list[str]:
        """Client ids that currently have a registered socket."""
        return list(self.hub.sockets)

    @property
    def queue_remaining(self) -> int:
        return self.queue.remaining()

    def queue_info(self) -> dict[str, Any]:
        return {"exec_info": {"queue_remaining": self.queue.remaining()}}

    def _broadcast_status(self) -> None:
        self.hub.send("status", {"status": self.queue_info()}, None)

    # -- test controls ----------------------------------------------------------------------------------

    def fail_node(
        self,
        class_type: str,
        exception_type: str = "Exception",
        message: str = "Injected failure",
        *,
        times: int | None = None,
    ) -> None:
        """Make every execution of `class_type` raise (at most `times` times); the node is never cached
        while armed. `exception_type` is what execution_error.exception_type reports."""
        self.failures[class_type] = ArmedFailure(exception_type, message, times)

    def hold(self, method: str, path: str, *, after: bool = False) -> Hold:
        """Hold the next ``method path`` request (before it is handled, or ``after`` it) until
        ``release()``: see holds.py."""
        return self.holds.arm(method, path, after=after)

    def pause(self) -> None:
        """Hold a running prompt at its next step until ``resume`` (also ``POST /__fake__/pause``, so
        a test's other process can do it)."""
        self.executor.unpaused.clear()

    def resume(self) -> None:
        self.executor.unpaused.set()

    def clear_failures(self) -> None:
        self.failures.clear()

    def fail_import(self, module: str, reason: str, nodes: tuple[str, ...] = ()) -> None:
        """As if the node module ``module`` (e.g. ``custom_nodes/some_pack``) had failed to import at
        start with ``reason``: its ``nodes`` are absent, and the server's log says why."""
        self.settings.import_failures.append((module, reason, tuple(nodes)))

    def log_entries(self) -> list[dict[str, Any]]:
        """What ``GET /internal/logs/raw`` lists (the start-up log, import failures included)."""
        return log_entries(self.settings, str(self.storage.root), self._started_at)

    def interrupt(self) -> None:
        """Same as POST /interrupt without a prompt_id."""
        self.executor.interrupt()

    async def drop_websockets(self, timeout: float = 2.0) -> None:
        """Abort every websocket's TCP connection (no close frame) and wait until the server noticed."""
        self.hub.drop_all()
        deadline = time.monotonic() + timeout
        while self.hub.open_sockets and time.monotonic() < deadline:
            await asyncio.sleep(0.005)

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until nothing is queued or running and every message has been handed to the sockets."""
        deadline = time.monotonic() + timeout
        while self.queue.remaining() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        if self.queue.remaining():
            raise TimeoutError(f"fake ComfyUI still busy after {timeout} s")
        await asyncio.wait_for(self.hub.drain(), timeout=max(0.1, deadline - time.monotonic()))
