"""Real ComfyUI servers for the real tier: an independent view of one (its /queue and /history, read
with plain aiohttp, never through the bot's client) and a server process the tier starts and kills
itself (``COMFYUI_REAL_START``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import socket
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

#: extra_data key the bot puts on every prompt it queues (bot/jobs/runner.py)
JOB_KEY = "comfycord_job"


@dataclass(frozen=True, slots=True)
class QueueView:
    """What ``GET /queue`` says: running and pending prompt ids, and each one's extra_data."""

    running: tuple[str, ...]
    pending: tuple[str, ...]
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)

    def of_job(self, job_id: str) -> list[str]:
        return [pid for pid, extra in self.extra.items() if extra.get(JOB_KEY) == job_id]


@dataclass(frozen=True, slots=True)
class HistoryView:
    """One ``GET /history/{id}`` entry reduced to what the tier checks."""

    prompt_id: str
    status: str  # success | error
    completed: bool
    events: tuple[str, ...]  # execution_start, execution_cached, execution_success|error|interrupted
    timestamps: dict[str, int]
    extra: dict[str, Any]
    raw: dict[str, Any]

    @property
    def interrupted(self) -> bool:
        return "execution_interrupted" in self.events

    @property
    def succeeded(self) -> bool:
        return self.status == "success" and "execution_success" in self.events


def history_view(prompt_id: str, entry: dict[str, Any]) -> HistoryView:
    status = entry.get("status") or {}
    messages = status.get("messages") or []
    prompt = entry.get("prompt") or []
    return HistoryView(
        prompt_id=prompt_id,
        status=str(status.get("status_str")),
        completed=bool(status.get("completed")),
        events=tuple(str(m[0]) for m in messages),
        timestamps={str(m[0]): int(m[1]["timestamp"]) for m in messages if "timestamp" in m[1]},
        extra=dict(prompt[3]) if len(prompt) > 3 and isinstance(prompt[3], dict) else {},
        raw=entry,
    )


class RealServer:
    """The test's own window on one real ComfyUI (the oracle the bot is checked against)."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url.rstrip("/")
        self.session = session

    @property
    def name(self) -> str:
        """The backend name the bot gives this server (``host:port``)."""
        return self.url.split("://", 1)[1]

    async def get(self, path: str) -> Any:
        async with self.session.get(self.url + path, timeout=aiohttp.ClientTimeout(total=30)) as response:
            response.raise_for_status()
            return await response.json()

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        async with self.session.post(
            self.url + path, json=body, timeout=aiohttp.ClientTimeout(total=30)
        ) as response:
            text = await response.text()
            try:
                return response.status, (await response.json()) if text else None
            except (aiohttp.ContentTypeError, ValueError):
                return response.status, text

    async def queue(self) -> QueueView:
        raw = await self.get("/queue")
        extra: dict[str, dict[str, Any]] = {}
        ids: dict[str, list[str]] = {"queue_running": [], "queue_pending": []}
        for key in ids:
            for item in sorted(raw.get(key, []), key=lambda i: i[0]):
                ids[key].append(item[1])
                extra[item[1]] = item[3] if isinstance(item[3], dict) else {}
        return QueueView(tuple(ids["queue_running"]), tuple(ids["queue_pending"]), extra)

    async def history(self, prompt_id: str) -> HistoryView | None:
        raw = await self.get(f"/history/{prompt_id}")
        entry = raw.get(prompt_id)
        return history_view(prompt_id, entry) if entry else None

    async def history_of_job(self, job_id: str, max_items: int = 200) -> list[HistoryView]:
        """Every prompt the bot queued for ``job_id`` that this server finished, oldest first."""
        raw = await self.get(f"/history?max_items={max_items}")
        found = [history_view(pid, entry) for pid, entry in raw.items()]
        return [h for h in found if h.extra.get(JOB_KEY) == job_id]

    async def wait_for(self, check: Any, timeout: float = 120.0, what: str = "condition") -> Any:
        """Poll ``await check()`` until truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = await check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {what} not met within {timeout:g}s")
            await asyncio.sleep(0.1)

    async def wait_finished(self, prompt_id: str, timeout: float = 180.0) -> HistoryView:
        async def done() -> HistoryView | None:
            return await self.history(prompt_id)

        return await self.wait_for(done, timeout, f"prompt {prompt_id} in /history")

    async def wait_idle(self, timeout: float = 300.0) -> None:
        async def idle() -> bool:
            queue = await self.queue()
            return not queue.running and not queue.pending

        await self.wait_for(idle, timeout, "an empty queue")

    async def stop_prompts(self, keys: Iterable[str] = (JOB_KEY, "comfycord_realtier")) -> list[str]:
        """Remove what the bot or the tier left behind (by prompt id; other people's prompts stay)."""
        queue = await self.queue()
        ours = [pid for pid, extra in queue.extra.items() if any(k in extra for k in keys)]
        pending = [pid for pid in ours if pid in queue.pending]
        if pending:
            await self.post("/queue", {"delete": pending})
        for pid in ours:
            if pid in queue.running:
                await self.post("/interrupt", {"prompt_id": pid})
        return ours

    async def answers(self) -> bool:
        try:
            async with self.session.get(
                self.url + "/system_stats", timeout=aiohttp.ClientTimeout(total=2)
            ) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class OwnServer:
    """A ComfyUI the tier starts and kills itself, from ``COMFYUI_REAL_START`` (a shell command with
    ``{port}``). The command either runs the server in the foreground, or starts it in the background
    and prints its PID as the last line of its output (as ``setup.sh --start`` does)."""

    def __init__(self, command: str, port: int | None = None) -> None:
        if "{port}" not in command:
            raise ValueError("COMFYUI_REAL_START must contain {port}")
        self.command = command
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.pid: int | None = None
        self._foreground: asyncio.subprocess.Process | None = None

    async def start(self, session: aiohttp.ClientSession, timeout: float = 240.0) -> None:
        command = self.command.replace("{port}", str(self.port))
        # Output to a file, not a pipe: a foreground server nobody reads would block on a full pipe.
        # (The child keeps its own copy of the file; ours may close.)
        with tempfile.TemporaryFile() as output:
            process = await asyncio.create_subprocess_exec(
                "/bin/sh",
                "-c",
                command,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
            await self._wait_answering(session, process, command, timeout)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await process.wait()
            if process.returncode is None:
                self.pid, self._foreground = process.pid, process  # the command is the server
                return
            output.seek(0)
            printed = output.read().decode(errors="replace").strip().splitlines()
        last = printed[-1].strip() if printed else ""
        if not last.isdigit():
            raise AssertionError(f"{command!r} exited but its last line is not a PID: {last!r}")
        self.pid, self._foreground = int(last), None

    async def _wait_answering(
        self,
        session: aiohttp.ClientSession,
        process: asyncio.subprocess.Process,
        command: str,
        timeout: float,
    ) -> None:
        server = RealServer(self.url, session)
        deadline = time.monotonic() + timeout
        while not await server.answers():
            if time.monotonic() > deadline:
                os.killpg(process.pid, signal.SIGKILL)
                raise AssertionError(f"{shlex.quote(command)} did not start a server on {self.port}")
            if process.returncode not in (None, 0):
                raise AssertionError(f"{command!r} exited with {process.returncode}")
            await asyncio.sleep(0.5)

    async def kill(self, session: aiohttp.ClientSession) -> None:
        """SIGKILL, like a crash or a power cut: nothing is flushed, every socket just drops."""
        if self.pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            if self._foreground is not None:
                os.killpg(self._foreground.pid, signal.SIGKILL)
            else:
                os.kill(self.pid, signal.SIGKILL)
        if self._foreground is not None:
            await self._foreground.wait()
        else:
            await _wait_gone(self.pid)
        self.pid = None
        server = RealServer(self.url, session)
        deadline = time.monotonic() + 30
        while await server.answers() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)


async def _wait_gone(pid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        if _zombie(pid):
            return  # dead; its parent (often a container's init) has not reaped it yet
        await asyncio.sleep(0.1)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
