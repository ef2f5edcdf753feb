"""The recorded ComfyUI transcripts as test input for the real client, plus small image helpers.

``Recording("07_progress_previews")`` gives the exact request bodies the recorder sent (``prompt(label)``,
``body(label)``), what the real server answered (``response(label)``) and, through ``expected_events``, the
RunEvents a client that follows the protocol reference must report for one recorded prompt: the recorded
websocket stream of the submitting socket, reduced with the reference's attribution rules (legacy image
frames belong to the ``progress`` right before them, event-4 frames name their node, TEXT frames belong to
our prompt only while it executes that node, SaveImageWebsocket frames are outputs, other frames previews).
"""

from __future__ import annotations

import asyncio
import copy
import functools
import io
import json
import random
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from bot.comfy.events import (
    CachedNodes,
    Finished,
    NodeExecuting,
    NodeText,
    PreviewImage,
    Queued,
    RunEvent,
    RunOutput,
    Started,
    StepProgress,
)

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "comfyui"
WEBSOCKET_OUTPUT = "SaveImageWebsocket"
LEGACY_IMAGE_TYPES = {1: "image/jpeg", 2: "image/png"}

EventKey = tuple[Any, ...]


@functools.cache
def _records(case: str) -> tuple[dict[str, Any], ...]:
    lines = (DATA_DIR / f"{case}.jsonl").read_text().splitlines()
    return tuple(json.loads(line) for line in lines if line.strip())


class Recording:
    """One transcript (tests/data/comfyui/<case>.jsonl), looked up by the recorder's request labels."""

    def __init__(self, case: str) -> None:
        self.case = case
        self.records = _records(case)

    def _record(self, kind: str, label: str) -> dict[str, Any]:
        for record in self.records:
            if record["kind"] == kind and record.get("label") == label:
                return record
        raise KeyError(f"{self.case}: no {kind} labelled {label!r}")

    def labels(self, kind: str = "http_request") -> list[str]:
        return [r["label"] for r in self.records if r["kind"] == kind]

    def request(self, label: str) -> dict[str, Any]:
        request: dict[str, Any] = self._record("http_request", label)["request"]
        return request

    def body(self, label: str) -> dict[str, Any]:
        """A deep copy of the JSON body the recorder sent."""
        body: dict[str, Any] = copy.deepcopy(self.request(label)["json"])
        return body

    def prompt(self, label: str) -> dict[str, Any]:
        """A deep copy of the recorded ``prompt`` graph of a ``POST /prompt``."""
        prompt: dict[str, Any] = self.body(label)["prompt"]
        return prompt

    def response(self, label: str) -> dict[str, Any]:
        response: dict[str, Any] = self._record("http_response", label)["response"]
        return response

    def response_json(self, label: str) -> Any:
        return copy.deepcopy(self.response(label).get("json"))

    def prompt_id(self, label: str) -> str:
        return str(self.response(label)["json"]["prompt_id"])

    def label_of_prompt(self, prompt_id: str) -> str:
        for record in self.records:
            body = record["response"].get("json") if record["kind"] == "http_response" else None
            if isinstance(body, Mapping) and body.get("prompt_id") == prompt_id:
                return str(record["label"])
        raise KeyError(f"{self.case}: no submit answered with prompt_id {prompt_id!r}")

    def sockets_of(self, client_id: str) -> set[str]:
        """Recorder socket labels (A, A2, ...) that were opened with ``?clientId=<client_id>``."""
        return {
            r["client"]
            for r in self.records
            if r["kind"] == "ws_connect" and r["path"].endswith(f"clientId={client_id}")
        }

    def ws_messages(self, kind: str, label: str) -> list[dict[str, Any]]:
        """``data`` of each recorded websocket message of ``kind`` about the prompt submitted as ``label``."""
        prompt_id = self.prompt_id(label)
        return [
            r["json"]["data"]
            for r in self.records
            if r["kind"] == "ws_text"
            and r["json"]["type"] == kind
            and r["json"]["data"].get("prompt_id") == prompt_id
        ]

    def expected_events(self, label: str) -> list[EventKey]:
        """The run events (as ``event_key`` tuples) the recorded stream implies for the prompt ``label``."""
        body = self.body(label)
        prompt_id = self.prompt_id(label)
        classes = {node_id: node.get("class_type") for node_id, node in body["prompt"].items()}
        sockets = self.sockets_of(body["client_id"])
        out: list[EventKey] = [("Queued",)]
        executing: tuple[str, str] | None = None  # (prompt_id, node) on this connection
        current: str | None = None  # last node reported for our prompt
        last_progress: dict[str, Any] | None = None
        frames: Counter[str] = Counter()
        for record in self.records:
            if record.get("client") not in sockets:
                continue
            if record["kind"] == "ws_text":
                kind, data = record["json"]["type"], record["json"]["data"]
                last_progress = data if kind == "progress" else None
                ours = data.get("prompt_id") == prompt_id
                if kind == "executing" and data.get("prompt_id") is not None:
                    executing = None if data["node"] is None else (data["prompt_id"], data["node"])
                    if ours and data["node"] is None:
                        out.append(("Finished",))
                        return out
                    if ours and data["node"] != current:
                        current = data["node"]
                        out.append(("NodeExecuting", current))
                elif ours and kind == "execution_start":
                    out.append(("Started",))
                elif ours and kind == "execution_cached":
                    out.append(("CachedNodes", tuple(data["nodes"])))
                elif ours and kind == "progress" and classes.get(data["node"]) != WEBSOCKET_OUTPUT:
                    out.append(("StepProgress", data["node"], int(data["value"]), int(data["max"])))
            elif record["kind"] == "ws_binary":
                decoded = record["decoded"]
                event = decoded["event_type"]
                if event in (1, 4):
                    if event == 4:
                        meta = decoded["metadata"]
                        node, owner, mime = meta["node_id"], meta["prompt_id"], meta["image_type"]
                    elif last_progress is not None:
                        node, owner = last_progress["node"], last_progress["prompt_id"]
                        mime = LEGACY_IMAGE_TYPES[decoded["image_type"]]
                        last_progress = None
                    else:
                        continue
                    if owner != prompt_id:
                        continue
                    if classes.get(node) == WEBSOCKET_OUTPUT:
                        out.append(("RunOutput", node, frames[node], mime))
                        frames[node] += 1
                    else:
                        out.append(("PreviewImage", node, mime))
                elif event == 3 and executing == (prompt_id, decoded["node_id"]):
                    out.append(("NodeText", decoded["node_id"], decoded["text"]))
        raise AssertionError(f"{self.case}: the recording never finished prompt {label!r}")


def event_key(event: RunEvent) -> EventKey | None:
    """The recorded-comparable part of a client event (None for events with no recorded counterpart)."""
    match event:
        case Queued():
            return ("Queued",)
        case Started():
            return ("Started",)
        case CachedNodes(nodes=nodes):
            return ("CachedNodes", tuple(nodes))
        case NodeExecuting(node_id=node):
            return ("NodeExecuting", node)
        case StepProgress(node_id=node, value=value, max=total):
            return ("StepProgress", node, value, total)
        case PreviewImage(node_id=node, mime=mime):
            return ("PreviewImage", node, mime)
        case RunOutput(node_id=node, index=index, mime=mime):
            return ("RunOutput", node, index, mime)
        case NodeText(node_id=node, text=text):
            return ("NodeText", node, text)
        case Finished():
            return ("Finished",)
    return None


def event_keys(events: list[RunEvent]) -> list[EventKey]:
    return [key for key in map(event_key, events) if key is not None]


# --- graphs ----------------------------------------------------------------------------------------------


def with_image(graph: dict[str, Any], ref: str) -> dict[str, Any]:
    """The graph with every LoadImage reading ``ref`` (what an upload returned), not the recorder's file."""
    graph = copy.deepcopy(graph)
    for node in graph.values():
        if node.get("class_type") == "LoadImage":
            node["inputs"]["image"] = ref
    return graph


def with_inputs(graph: dict[str, Any], node_id: str, **inputs: Any) -> dict[str, Any]:
    graph = copy.deepcopy(graph)
    graph[node_id]["inputs"].update(inputs)
    return graph


# --- images ------------------------------------------------------------------------------------------------


def make_png(width: int, height: int, seed: int = 0, *, mode: str = "RGB") -> bytes:
    """A small deterministic picture with a few coloured blocks."""
    rng = random.Random(seed)
    image = Image.new(mode, (width, height), tuple(rng.randrange(256) for _ in mode))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x0, x1 = sorted(rng.randrange(width) for _ in range(2))
        y0, y1 = sorted(rng.randrange(height) for _ in range(2))
        draw.rectangle((x0, y0, x1, y1), fill=tuple(rng.randrange(256) for _ in mode))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def assert_inverted(output: bytes, source: bytes) -> None:
    """``output`` is ComfyUI's ImageInvert of ``source`` (255 - v, or one less from its float rounding)."""
    out, src = open_image(output).convert("RGB"), open_image(source).convert("RGB")
    assert out.size == src.size
    for index, (got, value) in enumerate(zip(out.tobytes(), src.tobytes(), strict=True)):
        assert 0 <= (255 - value) - got <= 1, f"pixel {index // 3}: {got} is not the inverse of {value}"


def same_pixels(a: bytes, b: bytes) -> bool:
    first, second = open_image(a).convert("RGB"), open_image(b).convert("RGB")
    return first.size == second.size and first.tobytes() == second.tobytes()


# --- polling ---------------------------------------------------------------------------------------------


async def eventually(predicate: Callable[[], object], timeout: float = 5.0, what: str = "condition") -> None:
    """Poll ``predicate`` every few milliseconds until it is true (bounded)."""
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.002)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}") from None
