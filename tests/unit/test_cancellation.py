"""A cancellation that arrives in the same instant as what a wait was waiting for is not lost.

On Python 3.11 ``asyncio.wait_for`` swallows a cancel when the awaited thing is already done (CPython
gh-86296, fixed in 3.12): the task goes on as if nothing happened and ``/cancel`` answers "already
succeeded". Each place that used to wait that way is driven into exactly that instant here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from bot.comfy import ComfyClient, ConnectionLost, Endpoint
from bot.discord_ui.status import StatusMessages
from bot.discord_ui.throttle import EditThrottle
from bot.jobmodel.model import new_job
from bot.jobs.runner import JobRunner


async def cancelled_at_the_same_instant(waiting: asyncio.Task[Any], release: Callable[[], None]) -> None:
    """Let ``waiting`` block, then release what it waits for and cancel it in one step."""
    for _ in range(3):
        await asyncio.sleep(0)
    assert not waiting.done()
    release()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_waiting_for_a_backend_socket() -> None:
    async with aiohttp.ClientSession() as session:
        client = ComfyClient(session, Endpoint("http://127.0.0.1:9"))
        connection = client.connection
        waiting = asyncio.create_task(connection.wait_connected(30))
        await cancelled_at_the_same_instant(waiting, connection._connected.set)
        await client.close()


class _Http:
    async def system_stats(self) -> dict[str, Any]:
        return {}


class _Client:
    http = _Http()


class _Backend:
    name = "GPU 1"
    client = _Client()


async def test_waiting_for_a_backend_to_come_back_after_a_dropped_socket() -> None:
    came_back = asyncio.Event()

    async def events() -> AsyncIterator[Any]:
        yield ConnectionLost()
        await came_back.wait()
        yield ConnectionLost()

    async def started(job: Any) -> Any:
        return job

    runner = JobRunner(None, None, max_runtime=60, reconnect_grace=30, on_started=started, on_progress=print)  # type: ignore[arg-type]

    async def consume() -> None:
        async for _ in runner._with_grace(events(), _Backend()):  # type: ignore[arg-type]
            pass

    waiting = asyncio.create_task(consume())
    await cancelled_at_the_same_instant(waiting, came_back.set)


async def test_waiting_for_a_status_message_to_be_registered() -> None:
    messages = StatusMessages(None, None)  # type: ignore[arg-type]
    job = new_job(job_id="ABCD1234", guild_id=1, channel_id=2, user_id=3, template="t", params={}, now=0)
    waiting = asyncio.create_task(messages.wait_ready(job, timeout=30))
    await cancelled_at_the_same_instant(waiting, messages._event(job.id).set)


async def test_waiting_to_send_the_next_paced_edit() -> None:
    throttle = EditThrottle(interval=30.0, clock=time.monotonic)
    sent: list[str] = []

    def edit(name: str) -> Callable[[], Awaitable[None]]:
        async def send() -> None:
            sent.append(name)

        return send

    throttle.submit(1, "job", edit("first"))
    for _ in range(3):
        await asyncio.sleep(0)
    throttle.submit(1, "job", edit("second"))  # must wait 30 s after the first
    drain = throttle._channels[1].task
    assert drain is not None
    await cancelled_at_the_same_instant(drain, throttle._channels[1].wake.set)
    assert sent == ["first"]
    await throttle.close()
