"""Contract tests: every recorded ComfyUI case, replayed through the real client against the fake server.

Each test sends the recorder's own requests (``Recording.prompt(label)``: the graphs of
tests/data/comfyui/*.jsonl) through ``ComfyClient`` / ``ComfyHttp`` / ``BackendConnection`` and asserts the
outcome the recording shows. Where the recording carries a websocket stream for the prompt, the client's
events are compared with ``Recording.expected_events`` (the recorded stream reduced with the protocol
reference's attribution rules). The fake is protocol-faithful (test_fake_comfyui_fidelity.py); the real
client always negotiates ``supports_preview_metadata``, so the legacy cases (01, 07, 07c) make the fake
forget that negotiation to send event-1 frames like the recorded legacy client got.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest

from bot.comfy import (
    Backoff,
    ComfyClient,
    ConnectionLost,
    Endpoint,
    Finished,
    NodeExecuting,
    NodeText,
    OutputFile,
    OverallProgress,
    PreviewImage,
    PromptRun,
    Queued,
    RetryPolicy,
    RunEvent,
    RunOutput,
    Started,
    StepProgress,
)
from bot.errors import (
    ComfyError,
    ExecutionFailed,
    ExecutionInterrupted,
    NothingToDeliver,
    OriginForbidden,
    OutputsLost,
    PromptRejected,
    UnexpectedResponse,
    UploadTooLarge,
)
from bot.jobs.runner import RETRYABLE
from bot.media import OutputKind
from tests.fakes.comfyui import FakeComfyUI
from tests.integration.comfy_graphs import (
    Recording,
    assert_inverted,
    event_keys,
    eventually,
    make_png,
    open_image,
    same_pixels,
    with_image,
    with_inputs,
)

# SlowSteps sleeps `delay * time_scale` per step: the recorded 0.05-0.2 s steps become 1-4 ms.
TIME_SCALE = 0.02
RUN_TIMEOUT = 10.0

MakeClient = Callable[..., Awaitable[ComfyClient]]


# --- fixtures and helpers ------------------------------------------------------------------------------


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as exit_stack:
        yield exit_stack


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
async def fake(fake_comfy_factory: Callable[..., Awaitable[FakeComfyUI]]) -> FakeComfyUI:
    return await fake_comfy_factory(time_scale=TIME_SCALE)


@pytest.fixture
async def connect(
    session: aiohttp.ClientSession,
    stack: AsyncExitStack,
    fake_comfy_factory: Callable[..., Awaitable[FakeComfyUI]],
) -> AsyncIterator[MakeClient]:
    """``await connect(fake)``: a started, connected ComfyClient; all are closed before the fakes stop
    and before the sessions (``session``, or one entered on ``stack``) are."""
    clients: list[ComfyClient] = []

    async def make(
        fake: FakeComfyUI,
        *,
        client_session: aiohttp.ClientSession | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        timeout: float = 5.0,
        wait: bool = True,
    ) -> ComfyClient:
        client = ComfyClient(
            client_session or session,
            Endpoint(fake.base_url),
            timeout=timeout,
            retry=RetryPolicy(attempts=2, backoff=Backoff(0.001, 0.002)),
            backoff=Backoff(0.002, 0.01),
            sleep=sleep,
        )
        clients.append(client)
        client.start()
        if wait:
            await client.connection.wait_connected(timeout)
        return client

    yield make
    for client in clients:
        await client.close()


async def drive(
    run: PromptRun, events: list[RunEvent] | None = None, timeout: float = RUN_TIMEOUT
) -> tuple[list[RunEvent], ComfyError | None]:
    """Iterate a run to its end: (every event, the ComfyError it ended with or None)."""
    events = [] if events is None else events
    try:
        async with asyncio.timeout(timeout):
            async for event in run:
                events.append(event)
    except ComfyError as exc:
        return events, exc
    return events, None


async def legacy_socket(fake: FakeComfyUI, client: ComfyClient) -> None:
    """Make the fake treat our socket like the recordings' legacy client (event-1 frames, no metadata)."""
    flags = fake.hub.metadata
    cid = client.client_id
    await eventually(lambda: flags.get(cid, {}).get("feature_flags"), what="our feature_flags at the fake")
    flags[cid]["feature_flags"] = {}
    assert not fake.hub.supports_metadata(cid)


async def replay_upload(client: ComfyClient, rec: Recording, label: str, data: bytes) -> str:
    """Send the recorded ``/upload/image`` form (file name, overwrite, subfolder, type) with ``data``."""
    form = {field["name"]: field for field in rec.request(label)["multipart_form"]}
    uploaded = await client.http.upload_image(
        data,
        form["image"]["filename"],
        subfolder=form.get("subfolder", {}).get("value", ""),
        overwrite=form.get("overwrite", {}).get("value") in ("true", "1"),
        kind=form.get("type", {}).get("value", "input"),
        hashed_name=False,
    )
    return uploaded.name


async def drop_sockets(fake: FakeComfyUI) -> None:
    """Abort every websocket (``hub.drop_all``, as ``fake.drop_websockets()`` does) and wait until the
    server let go of those sockets. ``drop_websockets()`` itself waits until *no* socket is open, so when
    our client reconnects at once (as it should) it always sits out its whole 2 s timeout."""
    old = set(fake.hub.open_sockets)
    fake.hub.drop_all()
    await eventually(lambda: not old & set(fake.hub.open_sockets), what="the server to drop the sockets")


def of_type(events: list[RunEvent], kind: type[Any]) -> list[Any]:
    return [event for event in events if isinstance(event, kind)]


def latent_warmup(graph: dict[str, Any]) -> dict[str, Any]:
    """A graph sharing only EmptyLatentImage "10" with ``graph`` (so that one node gets cached)."""
    return {
        "10": graph["10"],
        "11": {
            "class_type": "SlowSteps",
            "inputs": {"samples": ["10", 0], "steps": 1, "delay": 0.0, "seed": 0, "send_previews": False},
        },
        "14": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["11", 1]}},
    }


class ReconnectGate:
    """The connection's injected back-off sleep: while closed, the client cannot reconnect."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    async def sleep(self, _delay: float) -> None:
        await self._open.wait()
        await asyncio.sleep(0)


# --- 01 / 01b: SaveImageWebsocket ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "legacy"),
    [("01_saveimagewebsocket", True), ("01b_saveimagewebsocket_preview_metadata", False)],
    ids=["01-legacy", "01b-metadata"],
)
async def test_01_saveimagewebsocket_yields_the_inverted_upload(
    fake: FakeComfyUI, connect: MakeClient, case: str, legacy: bool
) -> None:
    rec = Recording(case)
    client = await connect(fake)
    if legacy:
        await legacy_socket(fake, client)
    source = make_png(64, 48, seed=1)  # the recorded frame is a 64x48 PNG
    upload = await client.http.upload_image(source, "case01_input.png")
    graph = with_image(rec.prompt("submit"), upload.ref)
    if rec.expected_events("submit")[2] == ("CachedNodes", ("1", "2")):
        # 01b ran right after 01 on the recorded server: LoadImage and ImageInvert came from its cache.
        _, warmup_error = await drive(client.run(graph))
        assert warmup_error is None

    run = client.run(graph)
    events, error = await drive(run)

    assert error is None
    assert event_keys(events) == rec.expected_events("submit")
    assert isinstance(events[0], Queued)
    assert events[0].prompt_id == run.prompt_id
    assert isinstance(events[1], Started)
    assert events[1].prompt_id == run.prompt_id
    [output] = of_type(events, RunOutput)
    assert (output.node_id, output.index, output.mime) == ("3", 0, "image/png")
    assert open_image(output.data).format == "PNG"
    assert_inverted(output.data, source)
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert finished.prompt_id == run.prompt_id
    assert finished.outputs == (output,) == run.outputs
    assert fake.hub.supports_metadata(client.client_id) is not legacy


# --- 02: SaveImage + PreviewImage through /history and /view -------------------------------------------


async def test_02_file_outputs_come_back_through_history_and_view(
    fake: FakeComfyUI, connect: MakeClient
) -> None:
    rec = Recording("02_saveimage_history_view")
    client = await connect(fake)
    source = make_png(40, 40, seed=2)
    upload = await client.http.upload_image(source, "case02_input.png")
    run = client.run(with_image(rec.prompt("submit"), upload.ref))

    events, error = await drive(run)

    assert error is None
    # Execution order is not id order: PreviewImage "4" runs before ImageInvert "2".
    assert event_keys(events) == rec.expected_events("submit")
    assert of_type(events, RunOutput) == []  # file outputs are not on the wire
    recorded_history = rec.response_json("history_by_id")[rec.prompt_id("submit")]
    images = run.outputs
    assert [(i.node_id, i.index, i.mime) for i in images] == [
        (node, 0, "image/png") for node in recorded_history["outputs"]
    ]
    by_node = {image.node_id: image for image in images}
    assert_inverted(by_node["3"].data, source)  # SaveImage of the inverted image
    assert same_pixels(by_node["4"].data, source)  # PreviewImage of the upload itself
    # SaveImage wrote where the recording says, and /view served exactly that file.
    saved = recorded_history["outputs"]["3"]["images"][0]
    assert by_node["3"].data == (fake.output_dir / saved["subfolder"] / saved["filename"]).read_bytes()
    history = await client.http.get_history(run.prompt_id)
    assert history is not None
    assert history.status == "success"
    assert history.completed
    assert OutputFile("3", saved["filename"], saved["subfolder"], "output") in history.outputs
    temp = [o for o in history.outputs if o.node_id == "4"]
    assert [o.type for o in temp] == ["temp"]
    assert await client.http.get_history(str(uuid.uuid4())) is None  # recorded: unknown id -> {}


# --- 03: identical resubmission ------------------------------------------------------------------------


async def test_03_resubmission_is_cached_but_outputs_still_return(
    fake: FakeComfyUI, connect: MakeClient
) -> None:
    rec = Recording("03_resubmit_cached")
    client = await connect(fake)
    source = make_png(32, 32, seed=3)
    upload = await client.http.upload_image(source, "case03_input.png")

    results: dict[str, tuple[PromptRun, list[RunEvent]]] = {}
    for label in ("submit_1", "submit_2", "submit_ws_1", "submit_ws_2"):
        run = client.run(with_image(rec.prompt(label), upload.ref))
        events, error = await drive(run)
        assert error is None, label
        assert event_keys(events) == rec.expected_events(label), label
        results[label] = (run, events)

    # Second SaveImage run: every node cached, no NodeExecuting, the cached file is still returned.
    first, second = results["submit_1"][0], results["submit_2"][0]
    assert [(i.node_id, i.index) for i in second.outputs] == [("3", 0)]
    assert second.outputs[0].data == first.outputs[0].data
    assert_inverted(second.outputs[0].data, source)
    recorded = rec.response_json("history_2")[rec.prompt_id("submit_2")]["outputs"]
    history = await client.http.get_history(second.prompt_id)
    assert history is not None
    assert [(o.node_id, o.filename, o.subfolder) for o in history.outputs] == [
        ("3", image["filename"], image["subfolder"]) for image in recorded["3"]["images"]
    ]
    # SaveImageWebsocket is never cached: both runs execute it and stream the image.
    for label in ("submit_ws_1", "submit_ws_2"):
        run, events = results[label]
        assert of_type(events, NodeExecuting) == [NodeExecuting("3", "SaveImageWebsocket")]
        [image] = run.outputs
        assert_inverted(image.data, source)


# --- 04: validation errors -----------------------------------------------------------------------------

VALIDATION_LABELS = [
    label
    for label in Recording("04_validation_errors").labels()
    if label not in ("upload", "one_output_valid_one_invalid__accepted_with_node_errors")
    and label not in ("no_prompt_key", "non_json_body")
]

PLAIN_WORDS = {
    "unknown_class_type": ["Cannot execute because node NoSuchNodeXYZ does not exist."],
    "missing_class_type": ["Cannot execute because a node is missing the class_type property."],
    "missing_required_input": ["a required input is missing"],
    "bad_value_type_int": ["'abc' is not a valid INT value"],
    "value_smaller_than_min": ["Value 0 smaller than min of 1"],
    "value_bigger_than_max": ["Value 99.0 bigger than max of 10.0"],
    "value_not_in_list": [
        "'not-a-method' is not offered by this server "
        "(choices: nearest-exact, bilinear, area, bicubic, lanczos)"
    ],
    "loadimage_missing_file_custom_validation": ["Invalid image file: no_such_file.png"],
    "return_type_mismatch_MASK_to_IMAGE": ["it is linked to a MASK output but needs IMAGE"],
    "bad_linked_input_len3": ["must be a length-2 list of [node_id, slot_index]"],
    "link_to_nonexistent_node": ["it links to node '99' which is not in the workflow"],
    "prompt_no_outputs": [],
    "two_outputs_both_invalid": [
        "it links to node '99' which is not in the workflow",
        "'abc' is not a valid INT value",
    ],
}


def recorded_problems(body: dict[str, Any]) -> list[tuple[str, str, str | None, str]]:
    """(node id, class, input, error type) of every problem in a recorded 400 body."""
    problems = [
        (node_id, entry["class_type"], error.get("extra_info", {}).get("input_name"), error["type"])
        for node_id, entry in body["node_errors"].items()
        for error in entry["errors"]
    ]
    if not problems and body["error"]["type"] == "invalid_prompt":
        node_id = re.fullmatch(r"Node ID '#(.+)'", body["error"]["details"])
        assert node_id is not None
        problems.append((node_id.group(1), "", None, "invalid_prompt"))
    return problems


async def test_04_every_recorded_validation_error_is_prompt_rejected(
    fake: FakeComfyUI, connect: MakeClient
) -> None:
    assert set(VALIDATION_LABELS) == set(PLAIN_WORDS)
    rec = Recording("04_validation_errors")
    client = await connect(fake)
    await replay_upload(client, rec, "upload", make_png(16, 16, seed=4))

    for label in VALIDATION_LABELS:
        recorded = rec.response(label)
        assert recorded["status"] == 400
        run = client.run(rec.prompt(label))
        events, error = await drive(run)

        assert events == [], label
        assert isinstance(error, PromptRejected), label
        assert fake.prompt_requests[-1]["prompt"] == rec.prompt(label)  # the recorded graph, verbatim
        assert error.partial is False
        assert error.error_type == recorded["json"]["error"]["type"], label
        assert error.message == recorded["json"]["error"]["message"], label
        got = [(p.node_id, p.class_type, p.input_name, p.error_type) for p in error.problems]
        assert got == _with_dangling_inputs(recorded_problems(recorded["json"]), rec.prompt(label)), label
        for problem, words in zip(error.problems, PLAIN_WORDS[label], strict=True):
            assert words in problem.message, (label, problem)
            # What a member reads names the node, its class and the input.
            assert f"node {problem.node_id} (" in str(error)
            if problem.class_type:
                assert f"({problem.class_type})" in str(error)
            if problem.input_name:
                assert f"input '{problem.input_name}'" in str(error)
        if not error.problems:
            assert recorded["json"]["error"]["message"] in str(error)

    assert fake.queue_remaining == 0
    assert fake.executions == []


async def test_04_bodies_the_client_never_sends_still_map_to_typed_errors(
    fake: FakeComfyUI, connect: MakeClient
) -> None:
    """``no_prompt_key`` and ``non_json_body`` cannot come out of ``run``; replay them through the same
    request path ``queue_prompt`` uses, to pin how their recorded answers are typed."""
    rec = Recording("04_validation_errors")
    client = await connect(fake)

    with pytest.raises(PromptRejected) as rejected:
        await client.http._request("POST", "/prompt", json_body=rec.body("no_prompt_key"))
    recorded = rec.response_json("no_prompt_key")
    assert (rejected.value.error_type, rejected.value.message) == ("no_prompt", recorded["error"]["message"])
    assert rejected.value.problems == []

    raw = rec.request("non_json_body")["raw_body"]
    with pytest.raises(UnexpectedResponse) as unexpected:
        await client.http._request("POST", "/prompt", data=raw.encode())
    assert unexpected.value.status == rec.response("non_json_body")["status"] == 500


async def test_04_partially_accepted_prompt_is_rejected_and_taken_back(
    fake: FakeComfyUI, connect: MakeClient
) -> None:
    rec = Recording("04_validation_errors")
    label = "one_output_valid_one_invalid__accepted_with_node_errors"
    client = await connect(fake)
    await replay_upload(client, rec, "upload", make_png(16, 16, seed=4))
    # Keep the worker busy so the half-valid prompt is still pending when the client takes it back.
    fake.time_scale = 1.0
    blocker = str(uuid.uuid4())
    await client.http.queue_prompt(
        Recording("06_interrupt").prompt("submit_long"), client_id=client.client_id, prompt_id=blocker
    )
    await eventually(lambda: fake.executor.running is not None, what="the blocker to run")

    run = client.run(rec.prompt(label))
    events, error = await drive(run)

    assert events == []
    assert isinstance(error, PromptRejected)
    assert error.partial is True
    assert error.prompt_id == run.prompt_id
    recorded = rec.response_json(label)
    assert recorded["node_errors"]  # HTTP 200, yet with node errors
    assert [(p.node_id, p.class_type, p.input_name, p.error_type) for p in error.problems] == [
        ("5", "SaveImageWebsocket", "images", "return_type_mismatch")
    ]
    assert "it is linked to a MASK output but needs IMAGE" in error.problems[0].message
    assert fake.prompt_requests[-1]["prompt_id"] == run.prompt_id  # it was accepted...
    queue = await client.http.get_queue()
    assert not queue.contains(run.prompt_id)  # ...and removed again
    assert queue.is_running(blocker)

    await client.http.interrupt(blocker)
    await fake.wait_idle()
    assert [(e.prompt_id, e.outcome) for e in fake.executions] == [(blocker, "interrupted")]
    assert run.prompt_id not in fake.history


async def test_04_link_to_a_missing_node_names_the_input(fake: FakeComfyUI, connect: MakeClient) -> None:
    rec = Recording("04_validation_errors")
    client = await connect(fake)
    await replay_upload(client, rec, "upload", make_png(16, 16, seed=4))
    _, error = await drive(client.run(rec.prompt("link_to_nonexistent_node")))
    assert isinstance(error, PromptRejected)
    [problem] = error.problems
    assert (problem.node_id, problem.class_type) == ("3", "SaveImageWebsocket")
    assert problem.input_name == "images"


# --- 05: runtime errors --------------------------------------------------------------------------------


def failure(error: ComfyError | None) -> tuple[str, str, str]:
    assert isinstance(error, ExecutionFailed), error
    return (error.node_id, error.node_type, error.exception_type)


def recorded_failure(data: dict[str, Any]) -> tuple[str, str, str]:
    return (data["node_id"], data["node_type"], data["exception_type"])


async def test_05_runtime_errors_raise_execution_failed(fake: FakeComfyUI, connect: MakeClient) -> None:
    rec = Recording("05_execution_error")
    client = await connect(fake)

    # 5a: SaveImage with a filename_prefix escaping the output folder.
    upload = await client.http.upload_image(make_png(16, 16, seed=5), "case05_input.png")
    run = client.run(with_image(rec.prompt("submit_escape_prefix"), upload.ref))
    events, error = await drive(run)
    [recorded] = rec.ws_messages("execution_error", "submit_escape_prefix")
    assert failure(error) == recorded_failure(recorded) == ("3", "SaveImage", "Exception")
    assert isinstance(error, ExecutionFailed)
    assert error.exception_message.splitlines()[0] == recorded["exception_message"].splitlines()[0]
    assert "Saving image outside the output folder is not allowed." in error.user_message
    assert not of_type(events, Finished)
    history = await client.http.get_history(run.prompt_id)
    recorded_entry = rec.response_json("history_after_error")[rec.prompt_id("submit_escape_prefix")]
    assert history is not None
    assert (history.status, history.completed) == ("error", False)
    assert (history.status, history.completed) == tuple(
        recorded_entry["status"][k] for k in ("status_str", "completed")
    )
    stored = history.message("execution_error")
    assert stored is not None
    assert recorded_failure(dict(stored)) == failure(error)

    # 5b: LoadImage of an upload that is not an image (validation only checks that the file exists).
    corrupt = await client.http.upload_image(b"this is not a png file", "case05_corrupt.png")
    run = client.run(with_image(rec.prompt("submit_corrupt_image"), corrupt.ref))
    events, error = await drive(run)
    [recorded] = rec.ws_messages("execution_error", "submit_corrupt_image")
    assert failure(error) == recorded_failure(recorded) == ("1", "LoadImage", "PIL.UnidentifiedImageError")
    assert isinstance(error, ExecutionFailed)
    # Recorded: "cannot identify image file '/opt/comfyui/input/case05_corrupt.png'".
    assert error.exception_message.startswith("cannot identify image file '")
    assert error.exception_message.endswith(f"/input/{corrupt.ref}'")
    assert of_type(events, NodeExecuting) == [NodeExecuting("1", "LoadImage")]  # nothing ran after it


# --- 06: interrupt -------------------------------------------------------------------------------------


async def test_06_targeted_interrupt_stops_only_the_named_prompt(
    fake: FakeComfyUI, connect: MakeClient
) -> None:
    rec = Recording("06_interrupt")
    fake.time_scale = 0.1  # 10 ms a step: 300 steps leave ample time, the test ends at the interrupt
    client = await connect(fake)
    run = client.run(rec.prompt("submit_long_2"))  # 300 SlowSteps steps
    events: list[RunEvent] = []
    task = asyncio.create_task(drive(run, events))

    def steps() -> list[int]:
        return [e.value for e in of_type(events, StepProgress)]

    await eventually(lambda: steps(), what="the first step")
    await client.http.interrupt("not-running-id")  # recorded: ignored, still 200
    seen = max(steps())
    await eventually(lambda: max(steps()) >= seen + 2, what="steps after the wrong interrupt")
    await client.http.interrupt(run.prompt_id)
    _, error = await task

    [recorded] = rec.ws_messages("execution_interrupted", "submit_long_2")
    assert isinstance(error, ExecutionInterrupted)
    where = (error.node_id, error.node_type)
    assert where == (recorded["node_id"], recorded["node_type"]) == ("11", "SlowSteps")
    assert steps() == list(range(1, len(steps()) + 1))
    assert max(steps()) < 300
    assert not of_type(events, Finished)
    history = await client.http.get_history(run.prompt_id)
    assert history is not None
    assert (history.status, history.completed) == ("error", False)
    assert history.message("execution_interrupted") is not None
    assert fake.executions[-1].outcome == "interrupted"


async def test_06_global_interrupt_and_idle_interrupts(fake: FakeComfyUI, connect: MakeClient) -> None:
    rec = Recording("06_interrupt")
    fake.time_scale = 0.1
    client = await connect(fake)

    # 6c: interrupts while idle change nothing (targeted: ignored; global: reset when the next run starts).
    await client.http.interrupt(str(uuid.uuid4()))
    fake.interrupt()
    short = with_inputs(rec.prompt("submit_long"), "11", steps=3)
    _, error = await drive(client.run(short))
    assert error is None

    # 6a: the global POST /interrupt {} (the fake's control) also ends our run as interrupted.
    run = client.run(rec.prompt("submit_long"))
    events: list[RunEvent] = []
    task = asyncio.create_task(drive(run, events))
    await eventually(lambda: of_type(events, StepProgress), what="the first step")
    fake.interrupt()
    _, error = await task
    assert isinstance(error, ExecutionInterrupted)
    assert (error.node_id, error.node_type) == ("11", "SlowSteps")


# --- 07 / 07b / 07c: progress, previews, text, batches -------------------------------------------------


@pytest.mark.parametrize(
    ("case", "legacy"),
    [("07_progress_previews", True), ("07b_progress_previews_metadata", False)],
    ids=["07-legacy", "07b-metadata"],
)
async def test_07_progress_previews_text_and_final_image(
    fake: FakeComfyUI, connect: MakeClient, case: str, legacy: bool
) -> None:
    rec = Recording(case)
    client = await connect(fake)
    if legacy:
        await legacy_socket(fake, client)
    graph = rec.prompt("submit")
    # On the recorded server EmptyLatentImage "10" was cached from the case before.
    _, warmup_error = await drive(client.run(latent_warmup(graph)))
    assert warmup_error is None

    run = client.run(graph)
    events, error = await drive(run)

    assert error is None
    assert event_keys(events) == rec.expected_events("submit")
    steps = of_type(events, StepProgress)
    assert [(s.node_id, s.class_type, s.value, s.max) for s in steps] == [
        ("11", "SlowSteps", k, 5) for k in range(1, 6)
    ]
    fractions = [p.fraction for p in of_type(events, OverallProgress)]
    assert fractions == sorted(fractions)
    assert all(0.0 <= f <= 1.0 for f in fractions)
    previews = of_type(events, PreviewImage)
    assert len(previews) == 5
    for preview in previews:
        image = open_image(preview.data)
        assert (preview.node_id, preview.mime, image.format, image.size) == (
            "11",
            "image/jpeg",
            "JPEG",
            (512, 512),
        )
    assert of_type(events, NodeText) == [NodeText("12", "width: 32, height: 32\n batch size: 1")]
    [output] = of_type(events, RunOutput)
    image = open_image(output.data)
    assert (output.node_id, output.index, image.format, image.size) == ("14", 0, "PNG", (32, 32))
    assert run.outputs == (output,)


async def test_07c_batch_of_three_yields_three_indexed_outputs(
    fake: FakeComfyUI, connect: MakeClient
) -> None:
    rec = Recording("07c_batch_saveimagewebsocket")
    client = await connect(fake)
    await legacy_socket(fake, client)
    run = client.run(rec.prompt("submit"))

    events, error = await drive(run)

    assert error is None
    assert event_keys(events) == rec.expected_events("submit")
    outputs = of_type(events, RunOutput)
    assert [(o.node_id, o.index, o.mime) for o in outputs] == [("14", i, "image/png") for i in range(3)]
    assert all(open_image(o.data).size == (8, 8) for o in outputs)  # recorded: 64x64 latent -> 8x8
    assert not same_pixels(outputs[0].data, outputs[1].data)  # three batch entries, not one image thrice
    assert run.outputs == tuple(outputs)


# --- 08: two clients -----------------------------------------------------------------------------------


async def test_08_two_clients_each_get_only_their_own_run(
    fake: FakeComfyUI, connect: MakeClient, session: aiohttp.ClientSession
) -> None:
    rec = Recording("08_two_clients")
    client_a = await connect(fake)
    client_b = await connect(fake)
    assert client_a.client_id != client_b.client_id
    for client in (client_a, client_b):  # the recorded A and B were legacy clients
        await legacy_socket(fake, client)
    async with session.ws_connect(fake.ws_url("text-observer")) as observer:
        text_frames: list[bytes] = []

        async def observe() -> None:
            async for message in observer:
                if message.type == aiohttp.WSMsgType.BINARY and message.data[:4] == b"\x00\x00\x00\x03":
                    text_frames.append(message.data)  # noqa: PERF401 - polled while it fills

        watcher = asyncio.create_task(observe())
        run_a = client_a.run(rec.prompt("submit_A"))
        events_a: list[RunEvent] = []
        task_a = asyncio.create_task(drive(run_a, events_a))
        await eventually(lambda: events_a, what="A's prompt to be queued")
        run_b = client_b.run(rec.prompt("submit_B"))  # queued behind A's, like the recording
        (events_a, error_a), (events_b, error_b) = await asyncio.gather(task_a, drive(run_b))
        # Both prompts' TEXT frames were broadcast to every socket (ours included)...
        await eventually(lambda: len(text_frames) == 2, what="both broadcast TEXT frames")
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)

    assert error_a is None
    assert error_b is None
    # ...but each client attributes only the one its own prompt produced.
    assert event_keys(events_a) == rec.expected_events("submit_A")
    assert event_keys(events_b) == rec.expected_events("submit_B")
    for run, events in ((run_a, events_a), (run_b, events_b)):
        assert {e.prompt_id for e in events if isinstance(e, Queued | Started | Finished)} == {run.prompt_id}
        assert len(of_type(events, NodeText)) == 1
    [image_a], [image_b] = run_a.outputs, run_b.outputs
    assert not same_pixels(image_a.data, image_b.data)  # seeds 81 and 82
    assert [e.prompt_id for e in fake.executions] == [run_a.prompt_id, run_b.prompt_id]


# --- 09: info routes and the queue ---------------------------------------------------------------------


async def test_09_queue_is_sorted_and_pending_prompts_can_be_deleted(
    fake: FakeComfyUI, connect: MakeClient
) -> None:
    rec = Recording("09_info_queue")
    client = await connect(fake)
    fake.time_scale = 1.0  # the recorded 20 x 0.1 s SlowSteps keeps running while we look
    labels = ["submit_running", "submit_pending_1", "submit_pending_2", "submit_front"]
    ids = {label: str(uuid.uuid4()) for label in labels}
    label_of = {prompt_id: label for label, prompt_id in ids.items()}
    for label in labels:
        body = rec.body(label)
        queued = await client.http.queue_prompt(
            body["prompt"], client_id=client.client_id, prompt_id=ids[label], front=body.get("front", False)
        )
        assert queued.prompt_id == ids[label]
        if label == "submit_running":
            await eventually(lambda: fake.executor.running is not None, what="the first prompt to run")

    def recorded_order(response_label: str) -> list[str]:
        body = rec.response_json(response_label)
        pending = sorted(body["queue_pending"], key=lambda item: item[0])
        return [rec.label_of_prompt(item[1]) for item in pending]

    queue = await client.http.get_queue()
    assert [label_of[item.prompt_id] for item in queue.running] == ["submit_running"]
    assert [label_of[item.prompt_id] for item in queue.pending] == recorded_order("queue_running_and_pending")
    assert [item.number for item in queue.pending] == sorted(item.number for item in queue.pending)
    assert {item.client_id for item in (*queue.running, *queue.pending)} == {client.client_id}

    deleted = rec.label_of_prompt(rec.body("queue_delete_pending")["delete"][0])
    await client.http.delete_pending([ids[deleted]])
    queue = await client.http.get_queue()
    assert [label_of[item.prompt_id] for item in queue.pending] == recorded_order("queue_after_delete")
    assert [label_of[item.prompt_id] for item in queue.running] == ["submit_running"]  # unaffected

    fake.time_scale = 0.001
    await fake.wait_idle()
    assert [(label_of[e.prompt_id], e.outcome) for e in fake.executions] == [
        ("submit_running", "success"),
        *((label, "success") for label in recorded_order("queue_after_delete")),
    ]


async def test_09_pending_with_equal_numbers_is_in_execution_order(
    fake: FakeComfyUI, connect: MakeClient
) -> None:
    rec = Recording("09_info_queue")
    client = await connect(fake)
    fake.time_scale = 1.0
    blocker = str(uuid.uuid4())
    await client.http.queue_prompt(
        rec.prompt("submit_running"), client_id=client.client_id, prompt_id=blocker
    )
    await eventually(lambda: fake.executor.running is not None, what="the blocker to run")
    for prompt_id in ("c", "b", "a"):  # one priority class: the same explicit number
        await client.http.queue_prompt(
            rec.prompt("submit_pending_1"), client_id=client.client_id, prompt_id=prompt_id, number=5
        )
    queue = await client.http.get_queue()
    fake.time_scale = 0.001
    await fake.wait_idle()
    ran = [e.prompt_id for e in fake.executions if e.prompt_id != blocker]
    assert ran == ["a", "b", "c"]
    assert [item.prompt_id for item in queue.pending] == ran


async def test_09_info_routes(fake: FakeComfyUI, connect: MakeClient) -> None:
    rec = Recording("09_info_queue")
    client = await connect(fake)
    for class_type in ("LoadImage", "SaveImageWebsocket", "SlowSteps", "KSampler"):
        info = await client.http.object_info(class_type)
        recorded = rec.response_json(f"object_info_{class_type}")
        assert list(info) == list(recorded) == [class_type]
        assert set(info[class_type]) == set(recorded[class_type])
        assert info[class_type]["output"] == recorded[class_type]["output"]
    assert await client.http.object_info("NoSuchNodeXYZ") == rec.response_json("object_info_unknown") == {}
    everything = await client.http.object_info()
    assert {"LoadImage", "SaveImage", "SaveImageWebsocket", "SlowSteps"} <= set(everything)
    assert await client.http.features() == rec.response_json("features")
    stats = await client.http.system_stats()
    recorded_stats = rec.response_json("system_stats")
    assert set(stats) == set(recorded_stats)
    assert set(stats["system"]) == set(recorded_stats["system"])
    assert stats["system"]["comfyui_version"] == recorded_stats["system"]["comfyui_version"]


# --- 10: uploads ---------------------------------------------------------------------------------------


async def test_10_content_hash_uploads_feed_load_image(fake: FakeComfyUI, connect: MakeClient) -> None:
    rec = Recording("10_upload_semantics")
    client = await connect(fake)
    first, second = make_png(20, 20, seed=10), make_png(20, 20, seed=11)

    a = await client.http.upload_image(first, "case10.png")
    again = await client.http.upload_image(first, "photo of my cat.PNG")
    b = await client.http.upload_image(second, "case10.png")

    assert a == again  # same bytes, same name (whatever the member called the file)
    assert b.name != a.name
    assert (a.subfolder, a.type, a.ref) == ("comfycord", "input", f"comfycord/{a.name}")
    assert sorted(p.name for p in (fake.input_dir / "comfycord").iterdir()) == sorted([a.name, b.name])
    assert (fake.input_dir / "comfycord" / a.name).read_bytes() == first
    assert await client.http.view(OutputFile("", a.name, a.subfolder, "input")) == first

    # The returned ref works as a LoadImage input (recorded: a subfolder path validates and runs).
    run = client.run(with_image(rec.prompt("submit_loadimage_subfolder_path"), b.ref))
    events, error = await drive(run)
    assert error is None
    [output] = of_type(events, RunOutput)
    assert_inverted(output.data, second)


async def test_10_recorded_upload_name_rules(fake: FakeComfyUI, connect: MakeClient) -> None:
    """The recorder's uploads replayed with the server-chosen names the client hands back."""
    rec = Recording("10_upload_semantics")
    client = await connect(fake)
    original, changed = make_png(20, 20, seed=10), make_png(20, 20, seed=12)
    replays = {
        "upload_overwrite_true": original,
        "upload_same_name_same_content": original,
        "upload_same_name_different_content": changed,
        "upload_same_name_different_content_again": changed,
        "upload_overwrite_1": changed,
        "upload_subfolder": original,
        "upload_type_temp": original,
    }
    for label, data in replays.items():
        assert await replay_upload(client, rec, label, data) == rec.response_json(label)["name"], label
    assert (fake.input_dir / "botsub" / "case10.png").read_bytes() == original
    with pytest.raises(UnexpectedResponse) as escape:
        await replay_upload(client, rec, "upload_subfolder_escape_400", original)
    assert escape.value.status == rec.response("upload_subfolder_escape_400")["status"] == 400


async def test_10_mask_upload_replaces_the_originals_alpha(fake: FakeComfyUI, connect: MakeClient) -> None:
    client = await connect(fake)
    picture = make_png(20, 20, seed=13)
    original = await client.http.upload_image(picture, "case10.png")
    mask_bytes = make_png(20, 20, seed=14, mode="RGBA")

    mask = await client.http.upload_mask(mask_bytes, "case10_mask.png", original)

    assert (mask.subfolder, mask.type) == ("comfycord", "input")
    assert mask.name != original.name
    merged = open_image(await client.http.view(OutputFile("", mask.name, mask.subfolder, "input")))
    assert merged.mode == "RGBA"
    assert merged.convert("RGB").tobytes() == open_image(picture).convert("RGB").tobytes()
    assert merged.getchannel("A").tobytes() == open_image(mask_bytes).getchannel("A").tobytes()


# --- 11: foreign traffic without a client id -----------------------------------------------------------


async def test_11_foreign_observer_and_prompt_do_not_disturb_our_run(
    fake: FakeComfyUI, connect: MakeClient, session: aiohttp.ClientSession
) -> None:
    rec = Recording("11_no_client_id")
    fake.time_scale = 0.2  # ~30 ms a step: the foreign run is still broadcasting while ours is queued
    client = await connect(fake)
    async with session.ws_connect(fake.ws_url()) as observer:  # no clientId: the server assigns one
        seen: list[Any] = []

        async def observe() -> None:
            async for message in observer:
                text = message.type == aiohttp.WSMsgType.TEXT
                seen.append(json.loads(message.data) if text else message.data)

        watcher = asyncio.create_task(observe())
        foreign = rec.body("submit_no_client_id")
        assert "client_id" not in foreign
        async with session.post(fake.base_url + "/prompt", json=foreign) as response:
            foreign_id = (await response.json())["prompt_id"]
        ours = with_inputs(foreign["prompt"], "11", seed=112)
        run = client.run(ours)
        events, error = await drive(run)
        await fake.wait_idle()
        foreign_png = b"\x00\x00\x00\x01\x00\x00\x00\x02"
        await eventually(lambda: any(isinstance(m, bytes) and m[:8] == foreign_png for m in seen))
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)

    assert [e.prompt_id for e in fake.executions] == [foreign_id, run.prompt_id]
    # The observer got the foreign run's broadcasts (recorded), never a targeted message.
    kinds = {m["type"] for m in seen if isinstance(m, dict)}
    assert "progress" in kinds
    assert not kinds & {
        "execution_start",
        "executing",
        "executed",
        "execution_success",
    }
    # Our run saw exactly its own stream, none of the foreign progress, previews, text or image.
    assert error is None
    assert event_keys(events) == [
        ("Queued",),
        ("Started",),
        ("CachedNodes", ("10",)),
        ("NodeExecuting", "11"),
        *[
            key
            for k in (1, 2, 3)
            for key in (("PreviewImage", "11", "image/jpeg"), ("StepProgress", "11", k, 3))
        ],
        ("NodeExecuting", "12"),
        ("NodeText", "12", "width: 32, height: 32\n batch size: 1"),
        ("NodeExecuting", "13"),
        ("NodeExecuting", "14"),
        ("RunOutput", "14", 0, "image/png"),
        ("Finished",),
    ]
    foreign_image = next(m[8:] for m in seen if isinstance(m, bytes) and m[:8] == foreign_png)
    [output] = run.outputs
    assert not same_pixels(output.data, foreign_image)  # seed 112, not the foreign seed 111


# --- 12: reconnect mid-run -----------------------------------------------------------------------------


async def test_12_drop_mid_run_reconnects_with_the_same_id_and_finishes(
    fake: FakeComfyUI, connect: MakeClient
) -> None:
    rec = Recording("12_reconnect")
    fake.time_scale = 0.5  # 0.1 s a step: the run outlives the drop and the reconnect
    client = await connect(fake)
    run = client.run(rec.prompt("submit"))
    events: list[RunEvent] = []
    task = asyncio.create_task(drive(run, events))
    await eventually(lambda: of_type(events, StepProgress), what="the first step")

    await drop_sockets(fake)
    await eventually(
        lambda: client.connection.connects == 2 and client.connection.connected, what="reconnect"
    )
    assert fake.client_ids == [client.client_id]  # same client id, one socket
    fake.time_scale = 0.001
    _, error = await task

    assert error is None
    lost = next(i for i, e in enumerate(events) if isinstance(e, ConnectionLost))
    after = event_keys(events[lost + 1 :])
    # The rest of the run arrived live on the new socket (recorded: progress resumes, then nodes 12-14).
    assert [k for k in after if k[0] == "StepProgress"][-1] == ("StepProgress", "11", 12, 12)
    assert [k for k in after if k[0] != "StepProgress"] == [
        ("NodeExecuting", "12"),
        ("NodeText", "12", "width: 32, height: 32\n batch size: 1"),
        ("NodeExecuting", "13"),
        ("NodeExecuting", "14"),
        ("RunOutput", "14", 0, "image/png"),
        ("Finished",),
    ]
    values = [e.value for e in of_type(events, StepProgress)]
    assert values == sorted(values)
    assert len(fake.prompt_requests) == 1  # reconciled, never resubmitted


@pytest.mark.parametrize(
    ("output_class", "failing", "expected"),
    [
        ("SaveImageWebsocket", None, OutputsLost),
        ("SaveImage", None, None),
        ("SaveImageWebsocket", "ImageScale", ExecutionFailed),
    ],
    ids=["ws-frames-lost", "file-output-from-history", "error-from-history"],
)
async def test_12_run_that_ends_during_the_gap_is_reconciled_from_history(
    fake: FakeComfyUI,
    connect: MakeClient,
    output_class: str,
    failing: str | None,
    expected: type[ComfyError] | None,
) -> None:
    rec = Recording("12_reconnect")
    graph = rec.prompt("submit")
    if output_class == "SaveImage":
        graph["14"] = {"class_type": "SaveImage", "inputs": {"images": ["13", 0], "filename_prefix": "gap"}}
    if failing is not None:
        fake.fail_node(failing, "RuntimeError", "boom during the gap")
    fake.time_scale = 0.5
    gate = ReconnectGate()
    client = await connect(fake, sleep=gate.sleep)
    run = client.run(graph)
    events: list[RunEvent] = []
    task = asyncio.create_task(drive(run, events))
    await eventually(lambda: of_type(events, StepProgress), what="the first step")

    gate.close()
    await drop_sockets(fake)
    await eventually(lambda: of_type(events, ConnectionLost), what="the drop")
    fake.time_scale = 0.001
    await fake.wait_idle()  # the prompt ended while nobody listened
    gate.open()
    _, error = await task

    assert client.connection.connects == 2
    assert len(fake.prompt_requests) == 1
    if expected is None:
        assert error is None
        [image] = run.outputs
        assert (image.node_id, image.mime, open_image(image.data).size) == ("14", "image/png", (32, 32))
    else:
        assert isinstance(error, expected)
    if isinstance(error, ExecutionFailed):
        assert (error.node_id, error.node_type, error.exception_type) == ("13", "ImageScale", "RuntimeError")
    assert not of_type(events, RunOutput)  # the frame, if any, was sent into the gap


async def test_12_drop_while_the_submit_answer_is_in_flight_is_reconciled(
    fake: FakeComfyUI, connect: MakeClient, stack: AsyncExitStack
) -> None:
    graph = Recording("12_reconnect").prompt("submit")
    graph["14"] = {"class_type": "SaveImage", "inputs": {"images": ["13", 0], "filename_prefix": "gap"}}
    gate = ReconnectGate()
    clients: list[ComfyClient] = []

    async def on_request_end(_session: Any, _ctx: Any, params: aiohttp.TraceRequestEndParams) -> None:
        if (params.method, params.url.path) != ("POST", "/prompt"):
            return
        connection = clients[0].connection
        gate.close()
        await drop_sockets(fake)  # the socket goes down while the submit's answer is on its way
        await eventually(lambda: not connection.connected, what="the client to notice the drop")
        await fake.wait_idle()  # the prompt runs to its end during the gap
        gate.open()
        await eventually(lambda: connection.connected, what="the reconnect")  # back before `submitted`

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_request_end)
    traced = await stack.enter_async_context(aiohttp.ClientSession(trace_configs=[trace]))
    clients.append(await connect(fake, client_session=traced, sleep=gate.sleep))
    run = clients[0].run(graph)

    try:
        events, error = await drive(run, timeout=1.0)
    except TimeoutError:
        pytest.fail("the run never ended although its prompt finished during the gap")
    assert error is None
    assert of_type(events, ConnectionLost)
    [image] = run.outputs
    assert image.node_id == "14"


# --- 13: origin check ----------------------------------------------------------------------------------


async def test_13_client_sends_no_origin_so_the_origin_check_passes(
    fake: FakeComfyUI, connect: MakeClient
) -> None:
    sent: list[tuple[str, str, Any]] = []

    async def on_headers(_session: Any, _ctx: Any, params: aiohttp.TraceRequestHeadersSentParams) -> None:
        sent.append((params.method, params.url.path, params.headers))

    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(on_headers)
    async with aiohttp.ClientSession(trace_configs=[trace]) as traced:
        client = await connect(fake, client_session=traced)
        upload = await client.http.upload_image(make_png(8, 8, seed=13), "in.png")
        run = client.run(with_image(Recording("02_saveimage_history_view").prompt("submit"), upload.ref))
        _, error = await drive(run)
        assert error is None
        assert len(run.outputs) == 2
        await client.http.get_queue()
        await client.http.interrupt(run.prompt_id)
        await client.http.features()
        await client.close()

    paths = {path for _, path, _ in sent}
    assert {"/ws", "/upload/image", "/prompt", "/history/" + run.prompt_id, "/view", "/queue"} <= paths
    assert all("Origin" not in headers for _, _, headers in sent)


async def test_13_mismatching_origin_is_origin_forbidden(fake: FakeComfyUI, connect: MakeClient) -> None:
    rec = Recording("13_origin_check")
    recorded = rec.request("origin_localhost_vs_host_127_403")
    assert rec.response("origin_localhost_vs_host_127_403")["status"] == 403
    origin = recorded["headers"]["Origin"].replace("8199", str(fake.port))  # localhost vs 127.0.0.1
    async with aiohttp.ClientSession(headers={"Origin": origin}) as proxied:
        client = await connect(fake, client_session=proxied, timeout=0.5, wait=False)
        with pytest.raises(OriginForbidden) as forbidden:
            await client.http.get_queue()
        assert "origin" in forbidden.value.user_message.lower()
        # The websocket handshake is refused as well (recorded: 403), and said to be the origin check.
        with pytest.raises(OriginForbidden):
            await client.connection.wait_connected(0.2)
        assert client.connection.last_error is not None
        await client.close()


async def test_13_run_against_a_refusing_origin_check_reports_origin_forbidden(
    fake: FakeComfyUI, connect: MakeClient
) -> None:
    origin = f"http://localhost:{fake.port}"
    async with aiohttp.ClientSession(headers={"Origin": origin}) as proxied:
        client = await connect(fake, client_session=proxied, timeout=0.5, wait=False)
        try:
            _, error = await drive(client.run(Recording("01_saveimagewebsocket").prompt("submit")))
        finally:
            await client.close()
    assert isinstance(error, OriginForbidden)


# --- 14: upload size limit -----------------------------------------------------------------------------


async def test_14_upload_over_the_limit_is_upload_too_large(
    fake_comfy_factory: Callable[..., Awaitable[FakeComfyUI]], connect: MakeClient
) -> None:
    rec = Recording("14_upload_too_large")
    fake = await fake_comfy_factory(max_upload_size=1024 * 1024)  # --max-upload-size 1
    client = await connect(fake)
    assert await client.http.features() == rec.response_json("features_max_upload_size_1MB")

    big = rec.request("upload_too_large_413")["multipart_form"][0]
    with pytest.raises(UploadTooLarge) as too_large:
        await client.http.upload_image(bytes(big["length"]), big["filename"])
    assert rec.response("upload_too_large_413")["text"] in str(too_large.value)
    assert "too large" in too_large.value.user_message
    assert not (fake.input_dir / "comfycord").exists() or not any((fake.input_dir / "comfycord").iterdir())

    small = await client.http.upload_image(make_png(8, 8, seed=14), "case14_small.png")
    assert (fake.input_dir / small.ref).is_file()
    # The limit applies to every body, POST /prompt included.
    huge = {
        "1": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x" * 1_100_000}}
    }
    _, error = await drive(client.run(huge))
    assert isinstance(error, UploadTooLarge)


async def test_14_upload_of_an_ordinary_large_photo_does_not_warn(
    fake: FakeComfyUI, connect: MakeClient
) -> None:
    client = await connect(fake)
    photo = bytes(2 * 1024 * 1024)  # a phone photo attached on Discord is easily over 1 MiB
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        upload = await client.http.upload_image(photo, "photo.png")
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert (fake.input_dir / upload.ref).read_bytes() == photo


# --- 15: prompt request fields -------------------------------------------------------------------------


async def test_15_client_chosen_prompt_id_and_extra_data_pass_through(
    fake: FakeComfyUI, connect: MakeClient
) -> None:
    rec = Recording("15_prompt_request_fields")
    body = rec.body("submit_with_all_fields")
    prompt_id, extra_data = body["prompt_id"], body["extra_data"]
    client = await connect(fake)
    source = make_png(24, 24, seed=15)
    upload = await client.http.upload_image(source, "case15_input.png")
    graph = with_image(body["prompt"], upload.ref)

    run = client.run(graph, prompt_id=prompt_id, extra_data=extra_data)
    events, error = await drive(run)

    assert error is None
    assert run.prompt_id == prompt_id
    sent = fake.prompt_requests[-1]
    assert (sent["prompt_id"], sent["client_id"]) == (prompt_id, client.client_id)
    assert {key: value for key, value in sent["extra_data"].items() if key != "client_id"} == extra_data
    assert {e.prompt_id for e in events if isinstance(e, Queued | Started | Finished)} == {prompt_id}
    recorded_entry = rec.response_json("history_client_prompt_id")[prompt_id]
    entry = fake.history[prompt_id]
    assert entry["prompt"][3] == {**recorded_entry["prompt"][3], "client_id": client.client_id}
    # Without partial_execution_targets both outputs run: the streamed "4" and the saved "3".
    assert sorted((i.node_id, i.index) for i in run.outputs) == [("3", 0), ("4", 0)]
    saved = next(i for i in run.outputs if i.node_id == "3")
    # SaveImage embeds extra_pnginfo into the PNG (tEXt chunks show up in Image.info).
    assert open_image(saved.data).info["workflow"] == json.dumps(extra_data["extra_pnginfo"]["workflow"])

    # Re-using the prompt id is accepted and overwrites the history entry (recorded), `number` included.
    queued = await client.http.queue_prompt(
        graph, client_id=client.client_id, prompt_id=prompt_id, number=1000.5
    )
    assert (queued.prompt_id, queued.number) == (
        prompt_id,
        rec.response_json("submit_with_all_fields")["number"],
    )
    await fake.wait_idle()
    assert list(fake.history).count(prompt_id) == 1
    assert fake.history[prompt_id]["prompt"][0] == 1000.5
    history = await client.http.get_history(prompt_id)
    assert history is not None
    assert history.status == "success"


# --- 16: one socket per client id across reconnects ----------------------------------------------------


async def test_16_reconnects_never_overlap_sockets_of_our_client_id(
    fake: FakeComfyUI, connect: MakeClient, stack: AsyncExitStack
) -> None:
    rec = Recording("16_duplicate_client_id")
    overlaps: list[int] = []
    opened_while_old_open: list[int] = []

    def ours() -> int:
        return sum(1 for request in fake.hub.open_sockets.values() if request.query.get("clientId") == cid)

    async def on_start(_session: Any, _ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
        if params.url.path == "/ws" and ours():
            opened_while_old_open.append(ours())

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    traced = await stack.enter_async_context(aiohttp.ClientSession(trace_configs=[trace]))
    client = await connect(fake, client_session=traced)
    cid = client.client_id

    async def monitor() -> None:
        while True:
            if ours() > 1:
                overlaps.append(ours())
            await asyncio.sleep(0)

    async def fake_restart(fake: FakeComfyUI) -> None:
        await fake.restart()  # closes every socket with 1001, like a ComfyUI restart

    watcher = asyncio.create_task(monitor())
    try:
        disruptions = [drop_sockets, drop_sockets, fake_restart, drop_sockets]
        for round_number, disrupt in enumerate(disruptions, start=2):
            await disrupt(fake)

            def reconnected(n: int = round_number) -> bool:
                return (
                    client.connection.connects == n
                    and client.connection.connected
                    and fake.client_ids == [cid]
                )

            await eventually(reconnected, what=f"reconnect #{round_number}")
            graph = with_inputs(rec.prompt("submit_P1"), "11", seed=160 + round_number)
            run = client.run(graph)
            events, error = await drive(run)
            assert error is None
            # Every event arrived live on the newest socket (the recorded bug would leave it unregistered).
            assert not of_type(events, ConnectionLost)
            keys = [k for k in event_keys(events) if k[0] != "CachedNodes" and k != ("NodeExecuting", "10")]
            expected = rec.expected_events("submit_P1")
            assert keys == [k for k in expected if k[0] != "CachedNodes" and k != ("NodeExecuting", "10")]
            assert len(run.outputs) == 1
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    assert overlaps == []
    assert opened_while_old_open == []
    assert fake.client_ids == [cid]
    assert len(fake.hub.open_sockets) == 1
    await client.close()


# --- 17-19: animated, video and text outputs ------------------------------------------------------------


async def test_17_animated_webp_and_png_come_back_as_animations(
    fake: FakeComfyUI, connect: MakeClient
) -> None:
    rec = Recording("17_animated_outputs")
    client = await connect(fake)
    run = client.run(rec.prompt("animated"))

    events, error = await drive(run)

    assert error is None
    assert event_keys(events) == rec.expected_events("animated")
    assert of_type(events, RunOutput) == []  # files, not frames: they come through /history and /view
    by_node = {o.node_id: o for o in run.outputs}
    assert sorted(by_node) == sorted(
        rec.response_json("history_animated")[rec.prompt_id("animated")]["outputs"]
    )
    assert (by_node["20"].kind, by_node["20"].mime) == (OutputKind.ANIMATION, "image/webp")
    assert (by_node["21"].kind, by_node["21"].mime) == (OutputKind.ANIMATION, "image/png")
    for output in run.outputs:
        image = open_image(output.data)
        assert (image.size, image.n_frames) == ((8, 8), 4)  # recorded: 64x64 latent, batch 4
    history = await client.http.get_history(run.prompt_id)
    assert history is not None
    assert {(o.node_id, o.key, o.animated) for o in history.outputs} == {
        ("20", "images", True),
        ("21", "images", True),
    }


def _video(data: bytes) -> tuple[str, int]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.name, sum(1 for _ in container.decode(stream))


async def test_18_mp4_and_webm_come_back_as_videos(fake: FakeComfyUI, connect: MakeClient) -> None:
    rec = Recording("18_video_outputs")
    client = await connect(fake)
    run = client.run(rec.prompt("video"))

    events, error = await drive(run)

    assert error is None
    assert event_keys(events) == rec.expected_events("video")
    by_node = {o.node_id: o for o in run.outputs}
    assert sorted(by_node) == ["31", "32"]  # CreateVideo "30" makes no file
    assert (by_node["31"].kind, by_node["31"].mime, _video(by_node["31"].data)) == (
        OutputKind.VIDEO,
        "video/mp4",
        ("h264", 8),
    )
    assert (by_node["32"].kind, by_node["32"].mime, _video(by_node["32"].data)) == (
        OutputKind.VIDEO,
        "video/webm",
        ("vp9", 8),
    )
    assert by_node["31"].filename.endswith(".mp4")


async def test_19_preview_any_text_beside_a_websocket_image(fake: FakeComfyUI, connect: MakeClient) -> None:
    rec = Recording("19_text_output")
    client = await connect(fake)
    run = client.run(rec.prompt("text"))

    events, error = await drive(run)

    assert error is None
    assert event_keys(events) == rec.expected_events("text")
    assert of_type(events, NodeText) == [NodeText("40", "width: 8, height: 8\n batch size: 1")]
    image, text = run.outputs  # the frame on the wire first, then what /history adds
    assert (image.node_id, image.kind, image.mime, open_image(image.data).size) == (
        "42",
        OutputKind.IMAGE,
        "image/png",
        (8, 8),
    )
    recorded = rec.response_json("history_text")[rec.prompt_id("text")]["outputs"]["41"]["text"]
    assert (text.node_id, text.kind, text.mime, [text.text]) == (
        "41",
        OutputKind.TEXT,
        "text/plain",
        recorded,
    )


def _latent_graph(batch: int = 3) -> dict[str, Any]:
    return {
        "10": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": batch}},
        "11": {
            "class_type": "SlowSteps",
            "inputs": {"samples": ["10", 0], "steps": 1, "delay": 0.0, "seed": 7, "send_previews": False},
        },
    }


async def test_files_under_any_key_are_fetched_by_what_they_are(
    fake: FakeComfyUI, connect: MakeClient
) -> None:
    """VideoHelperSuite lists its files under `gifs`, audio nodes under `audio`: the key does not matter,
    the bytes say what each file is."""
    client = await connect(fake)
    graph = {
        **_latent_graph(),
        "20": {
            "class_type": "VHS_VideoCombine",
            "inputs": {
                "images": ["11", 1],
                "frame_rate": 8,
                "loop_count": 0,
                "filename_prefix": "vhs/clip",
                "format": "video/h264-mp4",
                "pingpong": False,
                "save_output": True,
            },
        },
        "21": {
            "class_type": "VHS_VideoCombine",
            "inputs": {
                "images": ["11", 1],
                "frame_rate": 8,
                "loop_count": 0,
                "filename_prefix": "vhs/loop",
                "format": "image/gif",
                "pingpong": True,
                "save_output": True,
            },
        },
        "30": {"class_type": "TestTone", "inputs": {"seconds": 0.25, "frequency": 440.0}},
        "31": {"class_type": "SaveAudio", "inputs": {"audio": ["30", 0], "filename_prefix": "audio/tone"}},
    }
    run = client.run(graph, output_nodes=frozenset({"20", "21", "31"}))

    _, error = await drive(run)

    assert error is None
    kinds = {o.node_id: (o.kind, o.mime) for o in run.outputs}
    assert kinds == {
        "20": (OutputKind.VIDEO, "video/mp4"),
        "21": (OutputKind.ANIMATION, "image/gif"),
        "31": (OutputKind.AUDIO, "audio/flac"),
    }
    history = await client.http.get_history(run.prompt_id)
    assert history is not None
    assert {o.key for o in history.outputs} == {"gifs", "audio"}


async def test_only_the_wanted_output_nodes_are_fetched(fake: FakeComfyUI, connect: MakeClient) -> None:
    rec = Recording("17_animated_outputs")
    client = await connect(fake)
    run = client.run(rec.prompt("animated"), output_nodes=frozenset({"20"}))

    _, error = await drive(run)

    assert error is None
    assert [(o.node_id, o.mime) for o in run.outputs] == [("20", "image/webp")]
    assert fake.views == ["webp_00001_.webp"]  # the animated PNG of node 21 stayed on the server


async def test_a_run_that_leaves_nothing_postable_says_so_and_is_not_retryable(
    fake: FakeComfyUI, connect: MakeClient
) -> None:
    client = await connect(fake)
    graph = {
        **_latent_graph(1),
        "20": {"class_type": "SaveLatent", "inputs": {"samples": ["11", 0], "filename_prefix": "latents/x"}},
    }
    run = client.run(graph)

    _, error = await drive(run)

    assert isinstance(error, NothingToDeliver)
    assert "produced nothing I can post" in error.user_message
    assert "x_00001_.latent" in error.user_message  # what it did write, so the admin sees why
    assert not isinstance(error, RETRYABLE)


async def test_an_output_over_the_fetch_cap_becomes_a_note_not_a_failure(
    fake: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    rec = Recording("18_video_outputs")
    async with ComfyClient(session, Endpoint(fake.base_url), timeout=5.0, max_output_bytes=1200) as client:
        await client.connection.wait_connected(5)
        run = client.run(rec.prompt("video"))
        _, error = await drive(run)
    assert error is None
    by_node = {o.node_id: o for o in run.outputs}
    assert by_node["32"].kind is OutputKind.VIDEO  # the WebM is small enough
    assert by_node["31"].kind is OutputKind.TEXT  # the MP4 is not: the member reads why
    assert "clip_00001_.mp4" in by_node["31"].text
    assert "larger than" in by_node["31"].text


def test_recordings_cover_every_case() -> None:
    """Every recorded case has a contract test above (keep this list in step with tests/data/comfyui)."""
    covered = {
        "01_saveimagewebsocket", "01b_saveimagewebsocket_preview_metadata", "02_saveimage_history_view",
        "03_resubmit_cached", "04_validation_errors", "05_execution_error", "06_interrupt",
        "07_progress_previews", "07b_progress_previews_metadata", "07c_batch_saveimagewebsocket",
        "08_two_clients", "09_info_queue", "10_upload_semantics", "11_no_client_id", "12_reconnect",
        "13_origin_check", "14_upload_too_large", "15_prompt_request_fields", "16_duplicate_client_id",
        "17_animated_outputs", "18_video_outputs", "19_text_output",
    }  # fmt: skip
    recorded = {
        p.stem for p in Path(__file__).resolve().parents[1].joinpath("data", "comfyui").glob("*.jsonl")
    }
    assert recorded == covered


def _with_dangling_inputs(problems: list[tuple], graph: dict) -> list[tuple]:
    """ComfyUI names no input for a link to a missing node; the client finds it in the graph."""
    out = []
    for node_id, class_type, input_name, error_type in problems:
        if input_name is None and error_type == "exception_during_validation":
            inputs = graph[node_id]["inputs"]
            input_name = next(
                (k for k, v in inputs.items() if isinstance(v, list) and v and str(v[0]) not in graph), None
            )
        out.append((node_id, class_type, input_name, error_type))
    return out
