"""Replay recorded ComfyUI transcripts against a live server and reduce both sides to comparable values.

A transcript (tests/data/comfyui/*.jsonl) is a sequence of client actions (websocket connects/sends/closes,
HTTP requests) interleaved with what the real server sent. `Replayer` performs the same actions against the
fake with plain aiohttp, waiting before each action until every live socket has received the recorded
"anchor" (the last message that socket had received before that action in the recording). Everything is
normalised on both sides the same way: prompt ids become P0, P1, ... in submission order, timestamps,
tracebacks and machine paths are dropped, images are reduced to (format, size, mode).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import io
import json
import re
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image

from tests.fakes.comfyui import FakeComfyUI

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "comfyui"
TEMP_NAME = re.compile(r"_temp_[a-z]{5}_")
TEMP_PREFIX = re.compile(r"ComfyUI_temp_[a-z]{5}")
QUOTED_PATH = re.compile(r"'[^']*/([^/']+)'")
WAIT_TIMEOUT = 10.0


def load_transcript(name: str) -> list[dict[str, Any]]:
    lines = (DATA_DIR / f"{name}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def example_frame(key: str) -> bytes:
    frames = json.loads((DATA_DIR / "example_frames.json").read_text())
    return base64.b64decode(frames[key]["frame_base64"])


def object_info_subset() -> dict[str, Any]:
    subset: dict[str, Any] = json.loads((DATA_DIR / "object_info_subset.json").read_text())
    return subset


def image_info(data: bytes) -> dict[str, Any]:
    with Image.open(io.BytesIO(data)) as image:
        return {"format": image.format, "size": list(image.size), "mode": image.mode}


def decode_frame(data: bytes) -> dict[str, Any]:
    """Same shape as a transcript's `ws_binary.decoded`."""
    event = struct.unpack(">I", data[:4])[0]
    decoded: dict[str, Any] = {"event_type": event}
    if event == 1:
        decoded["image_type"] = struct.unpack(">I", data[4:8])[0]
        decoded["image"] = image_info(data[8:])
    elif event == 3:
        size = struct.unpack(">I", data[4:8])[0]
        decoded["node_id"] = data[8 : 8 + size].decode()
        decoded["text"] = data[8 + size :].decode()
    elif event == 4:
        size = struct.unpack(">I", data[4:8])[0]
        decoded["metadata_raw"] = data[8 : 8 + size].decode()
        decoded["image"] = image_info(data[8 + size :])
    return decoded


class Side:
    """Normalisation state of one side (recording or live): prompt id labels and the prompt counter base."""

    def __init__(self) -> None:
        self.labels: dict[str, str] = {}
        self.number_base: int | None = None

    def add_prompt_id(self, prompt_id: str) -> None:
        self.labels.setdefault(prompt_id, f"P{len(self.labels)}")

    def number(self, value: Any) -> Any:
        """Counter-assigned numbers (ints) relative to the case's first one; explicit floats unchanged."""
        if not isinstance(value, int) or isinstance(value, bool) or self.number_base is None:
            return value
        return value - self.number_base if value >= 0 else -(-value - self.number_base)

    # -- generic walk -----------------------------------------------------------------------------------

    def walk(self, value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if key == "timestamp":
                    continue
                if key == "traceback" and isinstance(item, list):
                    out[key] = "<traceback>"
                    continue
                out[self.labels.get(key, key)] = self.walk(item)
            return out
        if isinstance(value, list):
            return [self.walk(item) for item in value]
        if isinstance(value, str):
            if value in self.labels:
                return self.labels[value]
            return TEMP_NAME.sub("_temp_xxxxx_", value)
        return value

    # -- websocket --------------------------------------------------------------------------------------

    def ws_text(self, message: dict[str, Any]) -> str:
        kind = message.get("type")
        data: Any = copy.deepcopy(message.get("data"))
        if kind == "status" and isinstance(data, dict) and "sid" in data:
            data["sid"] = "<sid>"
        if kind == "execution_error":
            data = self.execution_error(data)
        return json.dumps([kind, self.walk(data)])

    def execution_error(self, data: dict[str, Any]) -> dict[str, Any]:
        message = QUOTED_PATH.sub(r"'\1'", data.get("exception_message", "")).split("\n")[0]
        inputs = {
            name: values
            if all(isinstance(v, str) and "tensor" not in v and "{" not in v for v in values)
            else "<repr>"
            for name, values in data.get("current_inputs", {}).items()
        }
        return {
            "keys": list(data),
            "prompt_id": data.get("prompt_id"),
            "node_id": data.get("node_id"),
            "node_type": data.get("node_type"),
            "executed": sorted(data.get("executed", [])),
            "exception_type": data.get("exception_type"),
            "exception_message": message,
            "current_inputs": dict(sorted(inputs.items())),
            "current_outputs": sorted(data.get("current_outputs", [])),
        }

    def ws_binary(self, decoded: dict[str, Any]) -> str:
        event = decoded["event_type"]
        image = decoded.get("image", {})
        if event == 1:
            return json.dumps(["bin1", decoded["image_type"], image["format"], image["size"], image["mode"]])
        if event == 3:
            return json.dumps(["bin3", decoded["node_id"], decoded["text"]])
        metadata = self.walk(json.loads(decoded["metadata_raw"]))
        return json.dumps(["bin4", metadata, image["format"], image["size"], image["mode"]])

    # -- http bodies ------------------------------------------------------------------------------------

    def body(self, method: str, path: str, body: Any) -> Any:
        path = path.removeprefix("/api")
        body = copy.deepcopy(body)
        if method == "POST" and path == "/prompt" and isinstance(body, dict) and "number" in body:
            body["number"] = self.number(body["number"])
        if method == "GET" and path.startswith("/history"):
            for entry in body.values():
                entry["prompt"][0] = self.number(entry["prompt"][0])
                # The server collects the outputs to run in a set of node ids, so their order depends
                # on the process's string hashing (recordings 17-19 show orders no rule predicts).
                entry["prompt"][4] = sorted(entry["prompt"][4])
                for message in entry["status"]["messages"]:
                    if message[0] == "execution_error":
                        message[1] = self.execution_error(message[1])
        if method == "GET" and path == "/queue":
            for item in [*body["queue_running"], *body["queue_pending"]]:
                item[0] = self.number(item[0])
        if path.startswith("/object_info/"):
            body = normalise_object_info(body)
        if path == "/system_stats":
            return _shape(body)
        return self.walk(body)


def normalise_object_info(body: dict[str, Any]) -> dict[str, Any]:
    """Replace the combos that list files on disk (uploads, models) by placeholders."""
    body = copy.deepcopy(body)
    for name, info in body.items():
        required = info.get("input", {}).get("required", {})
        if name in ("LoadImage", "LoadImageMask"):
            required["image"][0] = "<input files>"
        if name == "CheckpointLoaderSimple":
            required["ckpt_name"][0] = "<checkpoints>"
    return body


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value[:1]]
    return type(value).__name__


class LiveClient:
    """One websocket of the replay; a reader task records every message in arrival order."""

    def __init__(self, label: str, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.label = label
        self.ws = ws
        self.events: list[tuple[str, Any]] = []
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                self.events.append(("text", json.loads(message.data)))
            elif message.type == aiohttp.WSMsgType.BINARY:
                self.events.append(("binary", message.data))
            else:
                break
            self._changed.set()
        self._changed.set()

    async def wait_until(self, predicate: Callable[[], bool], what: str) -> None:
        async with asyncio.timeout(WAIT_TIMEOUT):
            while not predicate():
                if self._task.done():
                    raise AssertionError(f"socket {self.label} closed while waiting for {what}")
                self._changed.clear()
                await self._changed.wait()

    async def close(self) -> None:
        await self.ws.close()
        await self._task


Hook = Callable[["Replayer"], Awaitable[None]]


class Replayer:
    """Replays one transcript against `fake`, checking every HTTP response as it goes."""

    def __init__(
        self,
        fake: FakeComfyUI,
        session: aiohttp.ClientSession,
        name: str,
        *,
        upload: Callable[[dict[str, Any]], bytes],
        special: dict[str, Callable[[int, dict[str, str], bytes], None]] | None = None,
    ) -> None:
        self.fake = fake
        self.session = session
        self.name = name
        self.records = load_transcript(name)
        self.responses = {r["request_seq"]: r for r in self.records if r["kind"] == "http_response"}
        self.upload = upload
        self.special = special or {}
        self.rec = Side()
        self.live = Side()
        # The fake's counter is known exactly (prompts submitted before the replay); the recording's is
        # derived from its first accepted prompt. So a fake that forgot to count rejected prompts fails.
        self.live.number_base = fake.number
        self.to_live: dict[str, str] = {}
        self.clients: dict[str, LiveClient] = {}
        self.closed: dict[str, LiveClient] = {}
        self.connect_failures: dict[str, int] = {}
        self.counted_prompts = 0
        self.live_responses: dict[str, tuple[int, dict[str, str], bytes]] = {}

    # -- recorded side ----------------------------------------------------------------------------------

    def recorded_ws(self, label: str, before_seq: int | None = None) -> list[str]:
        out = []
        for record in self.records:
            if before_seq is not None and record["seq"] >= before_seq:
                break
            if record.get("client") != label:
                continue
            if record["kind"] == "ws_text":
                out.append(self.rec.ws_text(record["json"]))
            elif record["kind"] == "ws_binary":
                out.append(self.rec.ws_binary(record["decoded"]))
        return out

    def live_ws(self, label: str) -> list[str]:
        client = self.clients.get(label) or self.closed[label]
        return [
            self.live.ws_text(payload) if kind == "text" else self.live.ws_binary(decode_frame(payload))
            for kind, payload in client.events
        ]

    def live_frames(self, label: str) -> list[bytes]:
        client = self.clients.get(label) or self.closed[label]
        return [payload for kind, payload in client.events if kind == "binary"]

    # -- replay -----------------------------------------------------------------------------------------

    async def run(self, hooks: dict[str, Hook] | None = None) -> None:
        hooks = hooks or {}
        for record in self.records:
            kind = record["kind"]
            if kind in ("ws_connect", "ws_send", "ws_closed", "http_request"):
                await self._sync(record["seq"])
            if kind == "ws_connect":
                await self._connect(record)
            elif kind == "ws_connect_failed":
                assert self.connect_failures.get(record["client"]) == record["status"], record
            elif kind == "ws_send":
                await self.clients[record["client"]].ws.send_str(record["raw"])
            elif kind == "ws_closed":
                await self._close(record["client"])
            elif kind == "http_request":
                await self._http(record)
            else:
                continue
            hook = hooks.get(record.get("label") or f"{kind}:{record.get('client')}")
            if hook is not None:
                await hook(self)
        for label in list(self.clients):
            await self._close(label)

    async def _sync(self, seq: int) -> None:
        for label, client in self.clients.items():
            recorded = self.recorded_ws(label, seq)
            if not recorded:
                continue
            anchor, needed = recorded[-1], recorded.count(recorded[-1])

            def reached(label: str = label, anchor: str = anchor, needed: int = needed) -> bool:
                return self.live_ws(label).count(anchor) >= needed

            await client.wait_until(reached, f"{label}: {anchor}")

    async def _connect(self, record: dict[str, Any]) -> None:
        headers = {k: self._port(v) for k, v in record.get("headers", {}).items()}
        try:
            ws = await self.session.ws_connect(self.fake.base_url + record["path"], headers=headers)
        except aiohttp.WSServerHandshakeError as error:
            self.connect_failures[record["client"]] = error.status
            return
        self.clients[record["client"]] = LiveClient(record["client"], ws)

    async def _close(self, label: str) -> None:
        # Let anything already queued for this socket arrive before closing it.
        await self.fake.hub.drain()
        await asyncio.sleep(0.02)
        client = self.clients.pop(label)
        await client.close()
        self.closed[label] = client
        async with asyncio.timeout(WAIT_TIMEOUT):
            while len(self.fake.hub.open_sockets) > len(self.clients):
                await asyncio.sleep(0.002)

    def _port(self, value: str) -> str:
        return value.replace(":8199", f":{self.fake.port}")

    def _temp_names(self, before_seq: int) -> dict[str, str]:
        """PreviewImage's random file prefixes, recorded -> live, matched by order of appearance."""
        recorded_text = json.dumps([r for r in self.records if r["seq"] < before_seq])
        clients = [*self.clients.values(), *self.closed.values()]
        live_text = json.dumps([payload for c in clients for kind, payload in c.events if kind == "text"])
        recorded = list(dict.fromkeys(TEMP_PREFIX.findall(recorded_text)))
        live = list(dict.fromkeys(TEMP_PREFIX.findall(live_text)))
        return dict(zip(recorded, live, strict=False))

    def _ids(self, value: Any, temp_names: dict[str, str] | None = None) -> Any:
        temp_names = temp_names or {}
        if isinstance(value, str):
            for recorded, live in [*self.to_live.items(), *temp_names.items()]:
                value = value.replace(recorded, live)
            return value
        if isinstance(value, list):
            return [self._ids(v, temp_names) for v in value]
        if isinstance(value, dict):
            return {k: self._ids(v, temp_names) for k, v in value.items()}
        return value

    async def _http(self, record: dict[str, Any]) -> None:
        request = record["request"]
        label = record["label"]
        temp_names = self._temp_names(record["seq"])
        method, path = request["method"], self._ids(request["path"])
        kwargs: dict[str, Any] = {"params": self._ids(request.get("query", {}), temp_names)}
        headers = {k: self._port(v) for k, v in request.get("headers", {}).items()}
        if "json" in request:
            kwargs["json"] = self._ids(request["json"])
        elif "raw_body" in request:
            kwargs["data"] = request["raw_body"].encode()
        elif "multipart_form" in request:
            form = aiohttp.FormData()
            for field in request["multipart_form"]:
                if "filename" in field:
                    content = io.BytesIO(self.upload(field))
                    form.add_field(
                        field["name"], content, filename=field["filename"], content_type=field["content_type"]
                    )
                else:
                    form.add_field(field["name"], field["value"])
            kwargs["data"] = form
        async with self.session.request(
            method, self.fake.base_url + path, headers=headers, **kwargs
        ) as response:
            body = await response.read()
            status, live_headers = response.status, dict(response.headers)
        self.live_responses[label] = (status, live_headers, body)
        expected = self.responses[record["seq"]]["response"]
        if label in self.special:
            self.special[label](status, live_headers, body)
            return
        self._track_prompt(request, expected, status, body)
        assert self._norm_live(method, path, status, live_headers, body) == self._norm_recorded(
            method, request["path"], expected
        ), f"{self.name}: response to {label}"

    def _track_prompt(
        self, request: dict[str, Any], expected: dict[str, Any], status: int, body: bytes
    ) -> None:
        if request["method"] != "POST" or request["path"].removeprefix("/api") != "/prompt":
            return
        payload = request.get("json")
        counted = isinstance(payload, dict) and "number" not in payload
        if status == 200 and expected["status"] == 200:
            live, recorded = json.loads(body), expected["json"]
            self.rec.add_prompt_id(recorded["prompt_id"])
            self.live.add_prompt_id(live["prompt_id"])
            self.to_live[recorded["prompt_id"]] = live["prompt_id"]
            if counted and self.rec.number_base is None:
                self.rec.number_base = abs(recorded["number"]) - self.counted_prompts
        if counted:
            self.counted_prompts += 1

    def _norm_recorded(self, method: str, path: str, response: dict[str, Any]) -> dict[str, Any]:
        headers = response["headers"]
        out: dict[str, Any] = {
            "status": response["status"],
            "content_type": headers.get("Content-Type"),
            "disposition": TEMP_NAME.sub("_temp_xxxxx_", headers.get("Content-Disposition") or ""),
        }
        if "json" in response:
            out["json"] = self.rec.body(method, path, response["json"])
        elif "image" in response:
            out["image"] = response["image"]
        elif "body_sha256" in response:
            out["media"] = True  # a video or audio body: only its type and length were recorded
        else:
            out["text"] = response.get("text", "")
        return out

    def _norm_live(
        self, method: str, path: str, status: int, headers: dict[str, str], body: bytes
    ) -> dict[str, Any]:
        content_type = headers.get("Content-Type")
        out: dict[str, Any] = {
            "status": status,
            "content_type": content_type,
            "disposition": TEMP_NAME.sub("_temp_xxxxx_", headers.get("Content-Disposition") or ""),
        }
        if content_type and content_type.startswith("application/json"):
            out["json"] = self.live.body(method, path, json.loads(body))
        elif content_type and content_type.startswith("image/"):
            out["image"] = image_info(body)
        elif content_type and content_type.startswith(("video/", "audio/")):
            out["media"] = bool(body)
        else:
            out["text"] = body.decode()
        return out

    # -- comparing websocket streams ---------------------------------------------------------------------

    def compare_ws(self, label: str, *, split_status: bool = False, drop_ticks_of: str | None = None) -> None:
        recorded, live = self.recorded_ws(label), self.live_ws(label)
        if drop_ticks_of is not None:
            recorded, live = _drop_ticks(recorded, drop_ticks_of), _drop_ticks(live, drop_ticks_of)
        if split_status:
            assert _statuses(live) == _statuses(recorded), f"{self.name}: status sequence of {label}"
            recorded, live = _without_status(recorded), _without_status(live)
        assert live == recorded, f"{self.name}: websocket stream of {label}"


def _is_status(item: str) -> bool:
    return item.startswith('["status"')


def _statuses(items: list[str]) -> list[str]:
    return [item for item in items if _is_status(item)]


def _without_status(items: list[str]) -> list[str]:
    return [item for item in items if not _is_status(item)]


def _drop_ticks(items: list[str], node_id: str) -> list[str]:
    """Drop the step updates of one node (their count depends on timing): its `progress` messages and the
    `progress_state` messages showing it running with an integer (updated) value."""
    out = []
    for item in items:
        kind, data = json.loads(item)[:2]
        if kind == "progress" and data.get("node") == node_id:
            continue
        if kind == "progress_state":
            node = data["nodes"].get(node_id)
            if node and node["state"] == "running" and isinstance(node["value"], int):
                continue
        out.append(item)
    return out
