"""Parsing of every recorded message and frame, and fuzzing that parsers only ever raise ProtocolError."""

from __future__ import annotations

import base64
import contextlib
import json
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.comfy.protocol import (
    MAX_FRAME_BYTES,
    Executed,
    Executing,
    ExecutionCached,
    ExecutionError,
    ExecutionInterrupted,
    ExecutionStart,
    ExecutionSuccess,
    FeatureFlags,
    ImageFrame,
    Progress,
    ProgressState,
    ProtocolError,
    Status,
    TextFrame,
    parse_binary,
    parse_text,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "comfyui"
EXPECTED_TYPES = {
    "status": Status,
    "feature_flags": FeatureFlags,
    "execution_start": ExecutionStart,
    "execution_cached": ExecutionCached,
    "executing": Executing,
    "progress": Progress,
    "progress_state": ProgressState,
    "executed": Executed,
    "execution_error": ExecutionError,
    "execution_interrupted": ExecutionInterrupted,
    "execution_success": ExecutionSuccess,
}


def _records(kind: str) -> list[dict]:
    out = []
    for path in sorted(DATA.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record["kind"] == kind:
                out.append(record)
    return out


def test_every_recorded_text_message_parses_to_its_type() -> None:
    seen: set[str] = set()
    for record in _records("ws_text"):
        message = parse_text(record["raw"])
        kind = record["json"]["type"]
        seen.add(kind)
        assert isinstance(message, EXPECTED_TYPES[kind]), record["raw"][:120]
    # The recordings cover every message type a client needs.
    assert seen == set(EXPECTED_TYPES)


def test_executing_variants() -> None:
    done = parse_text('{"type":"executing","data":{"node":null,"prompt_id":"p"}}')
    assert isinstance(done, Executing)
    assert done.is_done
    running = parse_text('{"type":"executing","data":{"node":"11","display_node":"11","prompt_id":"p"}}')
    assert isinstance(running, Executing)
    assert not running.is_done
    assert running.node == "11"
    reconnect = parse_text('{"type":"executing","data":{"node":"11"}}')
    assert isinstance(reconnect, Executing)
    assert reconnect.prompt_id is None
    assert not reconnect.is_done


def test_execution_error_fields_from_recording() -> None:
    errors = [parse_text(r["raw"]) for r in _records("ws_text") if r["json"]["type"] == "execution_error"]
    assert errors
    kinds = {e.exception_type for e in errors if isinstance(e, ExecutionError)}
    assert {"Exception", "PIL.UnidentifiedImageError"} <= kinds


def test_unknown_types_are_ignored() -> None:
    assert parse_text('{"type":"logs","data":{"entries":[]}}') is None
    assert parse_text('{"type":"display_component","data":{}}') is None
    assert parse_text('{"type":"something_new","data":{"x":1}}') is None


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        '{"data":{}}',
        '{"type":"progress","data":{"value":"x","max":1,"prompt_id":"p","node":"1"}}',
        '{"type":"status","data":{"status":{"exec_info":{"queue_remaining":true}}}}',
        '{"type":"execution_cached","data":{"nodes":"1","prompt_id":"p"}}',
        '{"type":"progress_state","data":{"prompt_id":"p","nodes":[]}}',
        '{"type":"executed","data":{"prompt_id":"p","node":"1","output":[1]}}',
        '{"type":"executing","data":null}',
        # What Python's json module accepts but JSON (and int(), and arithmetic) does not.
        '{"type":"progress","data":{"value":NaN,"max":1,"prompt_id":"p","node":"1"}}',
        '{"type":"progress","data":{"value":1,"max":Infinity,"prompt_id":"p","node":"1"}}',
        '{"type":"progress","data":{"value":-Infinity,"max":1,"prompt_id":"p","node":"1"}}',
        '{"type":"progress","data":{"value":2e308,"max":1,"prompt_id":"p","node":"1"}}',
        '{"type":"progress","data":{"value":1' + "0" * 320 + ',"max":1,"prompt_id":"p","node":"1"}}',
        '{"type":"progress","data":{"value":1' + "0" * 4400 + ',"max":1,"prompt_id":"p","node":"1"}}',
        '{"type":"status","data":{"status":{"exec_info":{"queue_remaining":NaN}}}}',
        '{"type":"progress_state","data":{"prompt_id":"p","nodes":{"1":{"value":NaN,"max":1,"state":"x"}}}}',
        '{"type":"executed","data":' + "[" * 100_000 + "]" * 100_000 + "}",
        b'{"type":"executing","data":{"node":"\xff"}}'.decode("unicode_escape").encode("latin-1"),
    ],
)
def test_malformed_text_raises_protocol_error(raw: str | bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_text(raw)


def _example_frames() -> dict[str, dict]:
    return json.loads((DATA / "example_frames.json").read_text())


def test_recorded_frames_decode() -> None:
    frames = _example_frames()
    legacy_png = parse_binary(
        base64.b64decode(frames["saveimagewebsocket_png_legacy_event1"]["frame_base64"])
    )
    assert isinstance(legacy_png, ImageFrame)
    assert legacy_png.mime == "image/png"
    assert legacy_png.prompt_id is None
    assert legacy_png.data.startswith(b"\x89PNG")

    meta = parse_binary(
        base64.b64decode(frames["saveimagewebsocket_png_with_metadata_event4"]["frame_base64"])
    )
    assert isinstance(meta, ImageFrame)
    assert meta.mime == "image/png"
    recorded = frames["saveimagewebsocket_png_with_metadata_event4"]["decoded"]["metadata"]
    assert meta.prompt_id == recorded["prompt_id"]
    assert meta.node_id == recorded["node_id"]

    jpeg = parse_binary(base64.b64decode(frames["sampler_preview_jpeg_legacy_event1"]["frame_base64"]))
    assert isinstance(jpeg, ImageFrame)
    assert jpeg.mime == "image/jpeg"
    assert jpeg.data.startswith(b"\xff\xd8")

    text = parse_binary(base64.b64decode(frames["text_event3_getimagesize"]["frame_base64"]))
    assert text == TextFrame("12", "width: 32, height: 32\n batch size: 1")


def test_every_recorded_binary_header_is_understood() -> None:
    for record in _records("ws_binary"):
        head = bytes.fromhex(record["head_hex"])
        event = struct.unpack(">I", head[:4])[0]
        assert event in (1, 3, 4), record["case"] if "case" in record else record["seq"]


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\x00\x00\x00\x01",
        b"\x00\x00\x00\x01\x00\x00\x00\x09rest",  # unknown image type
        b"\x00\x00\x00\x04\x00\x00\x01\x00{}",  # metadata length past the end
        b"\x00\x00\x00\x04\x00\x00\x00\x02[]",  # metadata not an object
        b"\x00\x00\x00\x04\x00\x00\x00\x03{x}",  # metadata not JSON
        b"\x00\x00\x00\x03\x00\x00\x00\x09ab",  # node id past the end
        b"\x00\x00\x00\x03\x00\x00\x00\x02\xff\xfetext",  # node id not UTF-8
    ],
)
def test_malformed_frames_raise_protocol_error(frame: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_binary(frame)


def test_oversized_frame_is_refused_without_decoding() -> None:
    frame = struct.pack(">II", 1, 2) + bytes(MAX_FRAME_BYTES)
    with pytest.raises(ProtocolError, match="exceeds"):
        parse_binary(frame)


def test_frame_of_exactly_the_limit_is_accepted() -> None:
    frame = struct.pack(">II", 1, 2) + bytes(MAX_FRAME_BYTES - 8)
    parsed = parse_binary(frame)
    assert isinstance(parsed, ImageFrame)
    assert len(parsed.data) == MAX_FRAME_BYTES - 8


def test_unknown_binary_events_are_ignored() -> None:
    assert parse_binary(struct.pack(">II", 2, 0)) is None
    assert parse_binary(struct.pack(">II", 99, 0) + b"xyz") is None


# --- fuzzing -------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from([*EXPECTED_TYPES, "other"]), data=json_values)
def test_fuzz_text_only_raises_protocol_error(kind: str, data: object) -> None:
    raw = json.dumps({"type": kind, "data": data})
    with contextlib.suppress(ProtocolError):
        parse_text(raw)


@settings(max_examples=300, deadline=None)
@given(raw=st.text(max_size=64) | st.binary(max_size=64))
def test_fuzz_arbitrary_text(raw: str | bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse_text(raw)


@settings(max_examples=400, deadline=None)
@given(
    event=st.sampled_from([1, 3, 4, 0, 2, 7]),
    word=st.integers(min_value=0, max_value=2**32 - 1) | st.integers(min_value=0, max_value=40),
    payload=st.binary(max_size=80),
)
def test_fuzz_binary_only_raises_protocol_error(event: int, word: int, payload: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse_binary(struct.pack(">II", event, word) + payload)


@settings(max_examples=200, deadline=None)
@given(node=st.text(min_size=1, max_size=10), text=st.text(max_size=40))
def test_fuzz_text_frames_round_trip(node: str, text: str) -> None:
    encoded = node.encode()
    frame = struct.pack(">II", 3, len(encoded)) + encoded + text.encode()
    assert parse_binary(frame) == TextFrame(node, text)


def test_frame_metadata_with_nan_or_deep_nesting_is_a_protocol_error() -> None:
    for meta in (b'{"prompt_id": NaN}', b"[" * 100_000 + b"]" * 100_000):
        with pytest.raises(ProtocolError):
            parse_binary(struct.pack(">II", 4, len(meta)) + meta + b"png")
