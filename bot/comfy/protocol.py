"""Pure parsing of ComfyUI's websocket traffic: text messages and binary frames to typed values.

Nothing here does I/O. ``parse_text`` and ``parse_binary`` return ``None`` for message kinds we do not
use and raise ``ProtocolError`` (and nothing else) for malformed input, so a reader task can drop a bad
message and keep reading. Malformed includes what Python's json module would let through: NaN,
Infinity, numbers too large for a float, and nesting deep enough to exhaust the stack.
Facts: shared/reference/comfyui-protocol.md §2 and §2b.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from bot.strictjson import StrictJSONError, strict_loads

MAX_FRAME_BYTES: Final = 64 * 1024 * 1024

EVENT_PREVIEW_IMAGE: Final = 1
EVENT_TEXT: Final = 3
EVENT_PREVIEW_IMAGE_WITH_METADATA: Final = 4

ImageMime = Literal["image/jpeg", "image/png"]
_IMAGE_TYPES: Final[dict[int, ImageMime]] = {1: "image/jpeg", 2: "image/png"}


class ProtocolError(ValueError):
    """A message or frame that does not have the documented shape."""


# --- text messages ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Status:
    """Queue size (pending + running); ``sid`` only on the copy sent at connect."""

    queue_remaining: int
    sid: str | None = None


@dataclass(frozen=True, slots=True)
class FeatureFlags:
    flags: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ExecutionStart:
    prompt_id: str


@dataclass(frozen=True, slots=True)
class ExecutionCached:
    prompt_id: str
    nodes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Executing:
    """A node started. ``node is None`` with a prompt_id: the run is over (history is written).

    Without a prompt_id it is the copy sent to a socket that reconnected mid-run.
    """

    node: str | None
    prompt_id: str | None
    display_node: str | None = None

    @property
    def is_done(self) -> bool:
        return self.node is None and self.prompt_id is not None


@dataclass(frozen=True, slots=True)
class Progress:
    prompt_id: str
    node: str
    value: float
    max: float


@dataclass(frozen=True, slots=True)
class NodeState:
    value: float
    max: float
    state: str


@dataclass(frozen=True, slots=True)
class ProgressState:
    prompt_id: str
    nodes: Mapping[str, NodeState]


@dataclass(frozen=True, slots=True)
class Executed:
    prompt_id: str
    node: str
    output: Mapping[str, Any] | None
    display_node: str | None = None


@dataclass(frozen=True, slots=True)
class ExecutionError:
    prompt_id: str
    node_id: str
    node_type: str
    exception_type: str
    exception_message: str
    traceback: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ExecutionInterrupted:
    prompt_id: str
    node_id: str | None
    node_type: str | None


@dataclass(frozen=True, slots=True)
class ExecutionSuccess:
    prompt_id: str


ServerMessage = (
    Status
    | FeatureFlags
    | ExecutionStart
    | ExecutionCached
    | Executing
    | Progress
    | ProgressState
    | Executed
    | ExecutionError
    | ExecutionInterrupted
    | ExecutionSuccess
)


# --- binary frames -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageFrame:
    """An image. Event 4 frames name their prompt and node; event 1 frames must be attributed."""

    data: bytes = field(repr=False)
    mime: ImageMime
    prompt_id: str | None = None
    node_id: str | None = None
    display_node_id: str | None = None


@dataclass(frozen=True, slots=True)
class TextFrame:
    """Node text (event 3). Broadcast to every socket, so it may belong to someone else's prompt."""

    node_id: str
    text: str


BinaryFrame = ImageFrame | TextFrame


# --- helpers -------------------------------------------------------------------------------------------


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ProtocolError(f"field {key!r} must be a string, got {type(value).__name__}")


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    return None if data.get(key) is None else _str(data, key)


def _num(data: Mapping[str, Any], key: str) -> float:
    value = data.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ProtocolError(f"field {key!r} must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits
        raise ProtocolError(f"field {key!r} is too large for a number") from None
    if not math.isfinite(number):
        raise ProtocolError(f"field {key!r} must be a finite number, got {number}")
    return number


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProtocolError(f"{what} must be an object, got {type(value).__name__}")
    return value


def _node_states(raw: object) -> dict[str, NodeState]:
    states: dict[str, NodeState] = {}
    for node_id, entry in _mapping(raw, "progress_state.nodes").items():
        item = _mapping(entry, f"progress_state.nodes[{node_id!r}]")
        states[str(node_id)] = NodeState(_num(item, "value"), _num(item, "max"), _str(item, "state"))
    return states


def _status(data: Mapping[str, Any]) -> Status:
    exec_info = _mapping(_mapping(data.get("status"), "status.status").get("exec_info"), "exec_info")
    remaining = exec_info.get("queue_remaining")
    if not isinstance(remaining, int) or isinstance(remaining, bool):
        raise ProtocolError("status.exec_info.queue_remaining must be an integer")
    return Status(remaining, _opt_str(data, "sid"))


def _executed(data: Mapping[str, Any]) -> Executed:
    output = data.get("output")
    if output is not None:
        output = _mapping(output, "executed.output")
    return Executed(_str(data, "prompt_id"), _str(data, "node"), output, _opt_str(data, "display_node"))


def _execution_error(data: Mapping[str, Any]) -> ExecutionError:
    trace = data.get("traceback") or []
    lines = tuple(str(line) for line in trace) if isinstance(trace, list) else ()
    return ExecutionError(
        prompt_id=_str(data, "prompt_id"),
        node_id=_str(data, "node_id"),
        node_type=_str(data, "node_type"),
        exception_type=_str(data, "exception_type"),
        exception_message=_str(data, "exception_message"),
        traceback=lines,
    )


def _cached(data: Mapping[str, Any]) -> ExecutionCached:
    nodes = data.get("nodes")
    if not isinstance(nodes, list):
        raise ProtocolError("execution_cached.nodes must be a list")
    return ExecutionCached(_str(data, "prompt_id"), tuple(str(n) for n in nodes))


_PARSERS: Final[dict[str, Callable[[Mapping[str, Any]], ServerMessage]]] = {
    "status": _status,
    "feature_flags": lambda d: FeatureFlags(dict(d)),
    "execution_start": lambda d: ExecutionStart(_str(d, "prompt_id")),
    "execution_cached": _cached,
    "executing": lambda d: Executing(
        _opt_str(d, "node"), _opt_str(d, "prompt_id"), _opt_str(d, "display_node")
    ),
    "progress": lambda d: Progress(_str(d, "prompt_id"), _str(d, "node"), _num(d, "value"), _num(d, "max")),
    "progress_state": lambda d: ProgressState(_str(d, "prompt_id"), _node_states(d.get("nodes"))),
    "executed": _executed,
    "execution_error": _execution_error,
    "execution_interrupted": lambda d: ExecutionInterrupted(
        _str(d, "prompt_id"), _opt_str(d, "node_id"), _opt_str(d, "node_type")
    ),
    "execution_success": lambda d: ExecutionSuccess(_str(d, "prompt_id")),
}


def parse_text(raw: str | bytes) -> ServerMessage | None:
    """Parse one text message; ``None`` for types we ignore (logs, display_component, future ones)."""
    try:
        envelope = strict_loads(raw)
    except StrictJSONError as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    envelope = _mapping(envelope, "message")
    kind = envelope.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("message has no string 'type'")
    parser = _PARSERS.get(kind)
    if parser is None:
        return None
    message: ServerMessage = parser(_mapping(envelope.get("data"), f"{kind}.data"))
    return message


def parse_binary(frame: bytes) -> BinaryFrame | None:
    """Parse one binary frame; ``None`` for event types that never carry anything for us."""
    if len(frame) > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {len(frame)} bytes exceeds {MAX_FRAME_BYTES}")
    if len(frame) < 8:
        raise ProtocolError(f"frame of {len(frame)} bytes is shorter than its 8-byte header")
    event, word = struct.unpack_from(">II", frame)
    if event == EVENT_PREVIEW_IMAGE:
        if word not in _IMAGE_TYPES:
            raise ProtocolError(f"unknown image type {word}")
        return ImageFrame(frame[8:], _IMAGE_TYPES[word])
    if event == EVENT_PREVIEW_IMAGE_WITH_METADATA:
        end = 8 + word
        if end > len(frame):
            raise ProtocolError("metadata length runs past the end of the frame")
        try:
            meta = _mapping(strict_loads(frame[8:end]), "image metadata")
        except StrictJSONError as exc:
            raise ProtocolError(f"image metadata is not JSON: {exc}") from None
        # ComfyUI maps unknown formats to JPEG as well (protocol reference §2b).
        png = meta.get("image_type") == "image/png"
        return ImageFrame(
            frame[end:],
            "image/png" if png else "image/jpeg",
            prompt_id=_opt_str(meta, "prompt_id"),
            node_id=_opt_str(meta, "node_id"),
            display_node_id=_opt_str(meta, "display_node_id"),
        )
    if event == EVENT_TEXT:
        end = 8 + word
        if end > len(frame):
            raise ProtocolError("node id length runs past the end of the frame")
        try:
            return TextFrame(frame[8:end].decode(), frame[end:].decode(errors="replace"))
        except UnicodeDecodeError:
            raise ProtocolError("node id is not UTF-8") from None
    return None


def feature_flags_message() -> str:
    """The first message a client sends: ask for self-describing (event 4) image frames."""
    return json.dumps({"type": "feature_flags", "data": {"supports_preview_metadata": True}})
