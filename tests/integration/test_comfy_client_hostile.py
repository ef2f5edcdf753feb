"""The real client against a scriptable, misbehaving server on 127.0.0.1.

Each test decides what the server answers; the client must map every failure onto a typed ComfyError,
keep its reader task alive through garbage, and never leak a raw exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from bot.comfy import Backoff, ComfyClient, Endpoint, RetryPolicy
from bot.comfy.endpoint import BackendAuth
from bot.comfy.events import Finished, RunOutput
from bot.comfy.http import MAX_RESPONSE_BYTES, ComfyHttp, OutputFile
from bot.comfy.protocol import MAX_FRAME_BYTES
from bot.errors import (
    BackendUnavailable,
    ComfyError,
    ExecutionFailed,
    OriginForbidden,
    OutputsLost,
    OutputTooLarge,
    PromptLost,
    PromptRejected,
    UnexpectedResponse,
    UploadTooLarge,
)
from bot.secret import Secret

PNG = b"\x89PNG\r\n\x1a\nfake"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


@dataclass
class Scripted:
    """A server whose routes the test sets; it records every request's headers."""

    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    ws_script: Callable[[web.WebSocketResponse, int], Awaitable[None]] | None = None
    ws_connects: int = 0
    base_url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path, dict(request.headers)))
        if request.path == "/ws":
            return await self._ws(request)
        handler = self.routes.get(f"{request.method} {request.path}")
        if handler is None:
            return web.Response(status=404, text="404: Not Found")
        return await handler(request)

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self.ws_connects += 1
        self.sockets.append(ws)
        number = self.ws_connects
        await ws.send_json({"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}}}})
        first = await ws.receive()
        assert first.type == aiohttp.WSMsgType.TEXT
        assert json.loads(first.data)["type"] == "feature_flags"
        if self.ws_script is not None:
            await self.ws_script(ws, number)
        async for _ in ws:
            pass
        return ws


@pytest.fixture
async def server() -> AsyncIterator[Scripted]:
    scripted = Scripted()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", scripted.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    scripted.base_url = f"http://127.0.0.1:{port}"
    yield scripted
    for ws in scripted.sockets:
        await ws.close()
    await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def _client(session: aiohttp.ClientSession, url: str, **kw: object) -> ComfyClient:
    return ComfyClient(
        session,
        Endpoint(url, kw.pop("auth", BackendAuth())),  # type: ignore[arg-type]
        client_id="cid",
        timeout=float(kw.pop("timeout", 5.0)),  # type: ignore[arg-type]
        retry=RetryPolicy(attempts=3, backoff=Backoff(0.001, 0.002), sleep=_no_sleep),
        backoff=Backoff(0.001, 0.01),
    )


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


GRAPH = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
    "2": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["1", 0]}},
}


async def _send_run(ws: web.WebSocketResponse, prompt_id: str, *, frame: bytes | None = None) -> None:
    """The recorded order of a one-node SaveImageWebsocket run (legacy image frame)."""
    await ws.send_json({"type": "execution_start", "data": {"prompt_id": prompt_id}})
    await ws.send_json({"type": "executing", "data": {"node": "2", "prompt_id": prompt_id}})
    await ws.send_json(
        {"type": "progress", "data": {"value": 0, "max": 1, "prompt_id": prompt_id, "node": "2"}}
    )
    await ws.send_bytes(frame if frame is not None else struct.pack(">II", 1, 2) + PNG)
    await ws.send_json({"type": "execution_success", "data": {"prompt_id": prompt_id}})
    await ws.send_json({"type": "executing", "data": {"node": None, "prompt_id": prompt_id}})


# --- HTTP failures --------------------------------------------------------------------------------


async def test_connection_refused_is_backend_unavailable(session: aiohttp.ClientSession) -> None:
    client = _client(session, "http://127.0.0.1:9")
    with pytest.raises(BackendUnavailable) as info:
        await client.http.system_stats()
    assert "unreachable" in str(info.value)
    # Members read the backend's display name (the default here), never its address.
    assert info.value.user_message == "GPU 1 is not answering right now."


async def test_html_500_on_submit_is_unexpected_and_not_retried(
    server: Scripted, session: aiohttp.ClientSession
) -> None:
    async def boom(_: web.Request) -> web.Response:
        return web.Response(
            status=500, text="<html><body>500 Internal Server Error</body></html>", content_type="text/html"
        )

    server.routes["POST /prompt"] = boom
    client = _client(session, server.base_url)
    with pytest.raises(UnexpectedResponse) as info:
        await client.http.queue_prompt(GRAPH, client_id="cid", prompt_id="p1")
    assert info.value.status == 500
    assert sum(1 for m, p, _ in server.requests if p == "/prompt") == 1


async def test_idempotent_get_is_retried_after_502(server: Scripted, session: aiohttp.ClientSession) -> None:
    calls = 0

    async def flaky(_: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        if calls < 3:
            return web.Response(status=502, text="bad gateway")
        return _json({"queue_running": [], "queue_pending": [[5, "b", {}, {}, []], [1, "a", {}, {}, []]]})

    server.routes["GET /queue"] = flaky
    snapshot = await _client(session, server.base_url).http.get_queue()
    assert calls == 3
    assert [i.prompt_id for i in snapshot.pending] == ["a", "b"]  # sorted into execution order


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [(413, "Maximum request body size 1048576 exceeded.", UploadTooLarge), (403, "", OriginForbidden)],
)
async def test_upload_refusals_are_typed(
    server: Scripted, session: aiohttp.ClientSession, status: int, body: str, error: type[ComfyError]
) -> None:
    async def refuse(_: web.Request) -> web.Response:
        return web.Response(status=status, text=body)

    server.routes["POST /upload/image"] = refuse
    with pytest.raises(error):
        await _client(session, server.base_url).http.upload_image(PNG, "in.png")


async def test_non_json_success_body_is_unexpected(server: Scripted, session: aiohttp.ClientSession) -> None:
    async def html(_: web.Request) -> web.Response:
        return web.Response(text="<html>proxy login</html>", content_type="text/html")

    server.routes["GET /system_stats"] = html
    with pytest.raises(UnexpectedResponse):
        await _client(session, server.base_url).http.system_stats()


async def test_rejection_names_node_input_and_problem(
    server: Scripted, session: aiohttp.ClientSession
) -> None:
    body = {
        "error": {
            "type": "prompt_outputs_failed_validation",
            "message": "Prompt outputs failed validation",
            "details": "",
            "extra_info": {},
        },
        "node_errors": {
            "11": {
                "errors": [
                    {
                        "type": "value_smaller_than_min",
                        "message": "Value 0 smaller than min of 1",
                        "details": "steps",
                        "extra_info": {"input_name": "steps", "received_value": 0},
                    }
                ],
                "dependent_outputs": ["14"],
                "class_type": "KSampler",
            }
        },
    }

    async def reject(_: web.Request) -> web.Response:
        return _json(body, 400)

    server.routes["POST /prompt"] = reject
    with pytest.raises(PromptRejected) as info:
        await _client(session, server.base_url).http.queue_prompt(GRAPH, client_id="cid", prompt_id="p")
    assert "node 11 (KSampler), input 'steps': Value 0 smaller than min of 1" in info.value.user_message


async def test_lost_submit_answer_is_looked_up_not_resent(
    server: Scripted, session: aiohttp.ClientSession
) -> None:
    accepted: list[str] = []

    async def accept_then_hang(request: web.Request) -> web.Response:
        accepted.append((await request.json())["prompt_id"])
        await asyncio.sleep(0.6)  # the client times out before the answer
        return _json({})

    async def queue(_: web.Request) -> web.Response:
        return _json({"queue_running": [], "queue_pending": [[0, pid, {}, {}, []] for pid in accepted]})

    server.routes["POST /prompt"] = accept_then_hang
    server.routes["GET /queue"] = queue
    client = _client(session, server.base_url, timeout=0.3)
    queued = await client.http.queue_prompt(GRAPH, client_id="cid", prompt_id="lost-answer")
    assert queued.prompt_id == "lost-answer"
    assert accepted == ["lost-answer"]


async def test_auth_headers_sent_and_no_origin(server: Scripted, session: aiohttp.ClientSession) -> None:
    async def stats(_: web.Request) -> web.Response:
        return _json({"system": {}, "devices": []})

    server.routes["GET /system_stats"] = stats
    auth = BackendAuth("bearer", value=Secret("tok"))
    async with _client(session, server.base_url, auth=auth) as client:
        await client.http.system_stats()
        await client.connection.wait_connected(5)
    for _, _, headers in server.requests:
        assert headers.get("Authorization") == "Bearer tok"
        assert "Origin" not in headers


# --- the websocket reader ----------------------------------------------------------------------------


async def test_reader_survives_garbage_and_run_completes(
    server: Scripted, session: aiohttp.ClientSession
) -> None:
    submitted = asyncio.Event()

    async def submit(request: web.Request) -> web.Response:
        body = await request.json()
        server.prompt_id = body["prompt_id"]  # type: ignore[attr-defined]
        submitted.set()
        return _json({"prompt_id": body["prompt_id"], "number": 0, "node_errors": {}})

    async def script(ws: web.WebSocketResponse, _: int) -> None:
        await submitted.wait()
        pid = server.prompt_id  # type: ignore[attr-defined]
        await ws.send_str("{not json")
        await ws.send_str('{"type": "progress", "data": {"value": "x"}}')
        await ws.send_str('{"type": "brand_new_type", "data": {}}')
        await ws.send_bytes(b"\x00\x00")
        await ws.send_bytes(struct.pack(">II", 4, 9999) + b"{}")
        await ws.send_bytes(struct.pack(">II", 3, 2) + b"99someone else's text")
        await ws.send_bytes(struct.pack(">II", 1, 1) + b"\xff\xd8orphan preview")
        await _send_run(ws, pid)

    server.routes["POST /prompt"] = submit
    server.ws_script = script
    async with _client(session, server.base_url) as client:
        events = [e async for e in client.run(GRAPH)]
    outputs = [e for e in events if isinstance(e, RunOutput)]
    assert [o.data for o in outputs] == [PNG]
    assert isinstance(events[-1], Finished)
    assert events[-1].outputs == tuple(outputs)


async def test_execution_error_is_raised_with_node(server: Scripted, session: aiohttp.ClientSession) -> None:
    submitted = asyncio.Event()

    async def submit(request: web.Request) -> web.Response:
        body = await request.json()
        server.prompt_id = body["prompt_id"]  # type: ignore[attr-defined]
        submitted.set()
        return _json({"prompt_id": body["prompt_id"], "number": 0, "node_errors": {}})

    async def script(ws: web.WebSocketResponse, _: int) -> None:
        await submitted.wait()
        pid = server.prompt_id  # type: ignore[attr-defined]
        await ws.send_json({"type": "execution_start", "data": {"prompt_id": pid}})
        await ws.send_json(
            {
                "type": "execution_error",
                "data": {
                    "prompt_id": pid,
                    "node_id": "1",
                    "node_type": "LoadImage",
                    "exception_type": "PIL.UnidentifiedImageError",
                    "exception_message": "cannot identify image file\n",
                    "traceback": [],
                    "executed": [],
                },
            }
        )
        await ws.send_json({"type": "executing", "data": {"node": None, "prompt_id": pid}})

    server.routes["POST /prompt"] = submit
    server.ws_script = script
    async with _client(session, server.base_url) as client:
        with pytest.raises(ExecutionFailed) as info:
            await client.run(GRAPH).result()
    assert info.value.node_id == "1"
    assert "LoadImage" in info.value.user_message
    assert "cannot identify image file" in info.value.user_message


def _history_routes(server: Scripted, entries: dict[str, dict], queue: list[str]) -> None:
    async def history(request: web.Request) -> web.Response:
        pid = request.path.rsplit("/", 1)[-1]
        return _json({pid: entries[pid]} if pid in entries else {})

    async def get_queue(_: web.Request) -> web.Response:
        return _json({"queue_running": [[0, p, {}, {}, []] for p in queue], "queue_pending": []})

    server.routes["GET /queue"] = get_queue
    for pid in ("done", "gone", "frames"):
        server.routes[f"GET /history/{pid}"] = history


async def _drop_after_submit(server: Scripted, prompt_id: str, after_reconnect=None) -> None:
    submitted = asyncio.Event()

    async def submit(request: web.Request) -> web.Response:
        submitted.set()
        return _json({"prompt_id": prompt_id, "number": 0, "node_errors": {}})

    async def script(ws: web.WebSocketResponse, number: int) -> None:
        if number == 1:
            await submitted.wait()
            await ws.send_json({"type": "execution_start", "data": {"prompt_id": prompt_id}})
            await ws.close()  # the socket drops mid-run
        elif after_reconnect is not None:
            await after_reconnect(ws)

    server.routes["POST /prompt"] = submit
    server.ws_script = script


async def test_drop_then_history_success_reports_lost_frames(
    server: Scripted, session: aiohttp.ClientSession
) -> None:
    await _drop_after_submit(server, "frames")
    _history_routes(
        server,
        {"frames": {"outputs": {}, "status": {"status_str": "success", "completed": True, "messages": []}}},
        [],
    )
    async with _client(session, server.base_url) as client:
        with pytest.raises(OutputsLost):
            await client.run(GRAPH, prompt_id="frames").result()
        assert client.connection.connects >= 2


async def test_drop_then_prompt_gone_is_prompt_lost(server: Scripted, session: aiohttp.ClientSession) -> None:
    await _drop_after_submit(server, "gone")
    _history_routes(server, {}, [])
    async with _client(session, server.base_url) as client:
        with pytest.raises(PromptLost):
            await client.run(GRAPH, prompt_id="gone").result()


async def test_drop_while_running_then_live_finish(server: Scripted, session: aiohttp.ClientSession) -> None:
    async def finish(ws: web.WebSocketResponse) -> None:
        await asyncio.sleep(0.05)  # let the reconcile see it running first
        await ws.send_json({"type": "executing", "data": {"node": "2"}})  # the reconnect variant
        await _send_run(ws, "done")

    await _drop_after_submit(server, "done", after_reconnect=finish)
    _history_routes(server, {}, ["done"])
    async with _client(session, server.base_url) as client:
        images = await client.run(GRAPH, prompt_id="done").result()
    assert [i.data for i in images] == [PNG]


async def test_no_connection_means_no_submit(session: aiohttp.ClientSession) -> None:
    client = _client(session, "http://127.0.0.1:9", timeout=0.3)
    try:
        with pytest.raises(BackendUnavailable):
            await client.run(GRAPH).result()
    finally:
        await client.close()


# --- untrusted JSON and unbounded bodies (issue 10, item 8) ---------------------------------------

#: Text messages Python's json module would accept, but that are not JSON a run can use.
NON_FINITE_PROGRESS = [
    '{"type": "progress", "data": {"value": NaN, "max": 1, "prompt_id": "%s", "node": "2"}}',
    '{"type": "progress", "data": {"value": 0, "max": Infinity, "prompt_id": "%s", "node": "2"}}',
    '{"type": "progress", "data": {"value": -Infinity, "max": 1, "prompt_id": "%s", "node": "2"}}',
    '{"type": "progress", "data": {"value": 1e999, "max": 1, "prompt_id": "%s", "node": "2"}}',
    '{"type": "progress", "data": {"value": 1' + "0" * 400 + ', "max": 1, "prompt_id": "%s", "node": "2"}}',
    '{"type": "progress_state", "data": {"prompt_id": "%s", "nodes": {"2": {"value": NaN, "max": 1, '
    '"state": "running"}}}}',
    '{"type": "executing", "data": ' + "[" * 50_000 + "]" * 50_000 + "}",
]


async def test_non_finite_and_deep_messages_are_dropped_and_the_run_completes(
    server: Scripted, session: aiohttp.ClientSession
) -> None:
    """Before the fix a NaN progress crashed the run at int(value): the job failed as a crash and the
    prompt was never stopped. Now the reader drops each one like any malformed message."""
    submitted = asyncio.Event()

    async def submit(request: web.Request) -> web.Response:
        body = await request.json()
        server.prompt_id = body["prompt_id"]  # type: ignore[attr-defined]
        submitted.set()
        return _json({"prompt_id": body["prompt_id"], "number": 0, "node_errors": {}})

    async def script(ws: web.WebSocketResponse, _: int) -> None:
        await submitted.wait()
        pid = server.prompt_id  # type: ignore[attr-defined]
        await ws.send_json({"type": "execution_start", "data": {"prompt_id": pid}})
        await ws.send_json({"type": "executing", "data": {"node": "1", "prompt_id": pid}})
        for raw in NON_FINITE_PROGRESS:
            await ws.send_str(raw.replace("%s", pid))
        meta = b'{"prompt_id": NaN, "node_id": "2"}'
        await ws.send_bytes(struct.pack(">II", 4, len(meta)) + meta + PNG)  # NaN in a frame header
        await _send_run(ws, pid)

    server.routes["POST /prompt"] = submit
    server.ws_script = script
    async with _client(session, server.base_url) as client:
        events = [e async for e in client.run(GRAPH)]
        assert client.connection.connects == 1, "the reader never died"
    assert isinstance(events[-1], Finished)
    assert [o.data for o in events if isinstance(o, RunOutput)] == [PNG]


@pytest.mark.parametrize(
    ("route", "body", "call"),
    [
        ("GET /history/p", '{"p": {"status": {"status_str": NaN}, "outputs": {}}}', "history"),
        ("GET /queue", '{"queue_running": [[Infinity, "p", {}, {}, []]], "queue_pending": []}', "queue"),
        ("GET /object_info", '{"KSampler": ' + "[" * 100_000 + "]" * 100_000 + "}", "object_info"),
        ("GET /system_stats", '{"devices": [{"vram_free": 1e999}]}', "system_stats"),
        ("GET /history/p", '{"p": {"number": 1' + "0" * 5000 + "}}", "history"),
    ],
    ids=["nan-history", "infinity-queue", "deep-object-info", "overflow-stats", "long-int-history"],
)
async def test_untrusted_json_bodies_are_unexpected_responses(
    server: Scripted, session: aiohttp.ClientSession, route: str, body: str, call: str
) -> None:
    async def answer(_: web.Request) -> web.Response:
        return web.Response(text=body, content_type="application/json")

    server.routes[route] = answer
    http = _client(session, server.base_url).http
    calls = {
        "history": lambda: http.get_history("p"),
        "queue": http.get_queue,
        "object_info": http.object_info,
        "system_stats": http.system_stats,
    }
    with pytest.raises(UnexpectedResponse) as info:
        await calls[call]()
    assert info.value.status == 200
    assert info.value.user_message.endswith("gave an unexpected answer.")


def _capped(session: aiohttp.ClientSession, url: str, limit: int) -> ComfyHttp:
    return ComfyHttp(session, Endpoint(url), timeout=5.0, retry=RetryPolicy.never(), max_body_bytes=limit)


async def test_endless_view_body_is_cut_at_the_limit(
    server: Scripted, session: aiohttp.ClientSession
) -> None:
    """A /view that never ends (chunked, no length): without a cap this reads until memory runs out."""
    sent = 0
    stopped = asyncio.Event()

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b"\x00" * 65536
        try:
            while True:
                await response.write(chunk)
                sent += len(chunk)
        except (ConnectionResetError, ConnectionError, RuntimeError):
            stopped.set()
        return response

    server.routes["GET /view"] = endless
    http = _capped(session, server.base_url, 1 << 20)
    with pytest.raises(OutputTooLarge) as info:
        await http.view(OutputFile("9", "big.png", "", "output"))
    assert "over 1048576 bytes" in str(info.value)
    assert info.value.filename == "big.png"
    await asyncio.wait_for(stopped.wait(), 10)  # the client hung up: the server could not keep sending
    assert sent < 64 * (1 << 20)


async def test_declared_oversized_body_is_refused_before_reading(
    server: Scripted, session: aiohttp.ClientSession
) -> None:
    release = asyncio.Event()

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 10 * (1 << 30)  # claims 10 GiB, sends a few bytes, then waits
        await response.prepare(request)
        await response.write(b'{"a": ')
        await release.wait()  # the client must not wait for the rest (nor for its timeout)
        return response

    server.routes["GET /history/p"] = huge
    http = _capped(session, server.base_url, 1 << 20)
    try:
        with pytest.raises(UnexpectedResponse) as info:
            await http.get_history("p")
    finally:
        release.set()
    assert "10737418240 bytes (declared)" in str(info.value)


async def test_default_limit_is_the_documented_64_mib(
    server: Scripted, session: aiohttp.ClientSession
) -> None:
    assert MAX_RESPONSE_BYTES == MAX_FRAME_BYTES == 64 * (1 << 20)
    block = b"\x00" * (1 << 20)

    async def just_over(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        with contextlib.suppress(ConnectionError, RuntimeError):
            for _ in range(65):
                await response.write(block)
        return response

    async def at_limit(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(64):
            await response.write(block)
        return response

    server.routes["GET /view"] = just_over
    http = _client(session, server.base_url).http
    with pytest.raises(OutputTooLarge):
        await http.view(OutputFile("9", "big.png", "", "output"))
    server.routes["GET /view"] = at_limit
    assert len(await http.view(OutputFile("9", "big.png", "", "output"))) == MAX_RESPONSE_BYTES
