"""Run one graph on one backend and report typed events, ending with the final results.

Completion is ``executing {node: null}`` for our prompt (sent after the history write), or, after a
websocket gap, what ``/history`` says. Final results come from SaveImageWebsocket frames (which exist
only on the wire) and from what the other output nodes left in ``/history``: every file listed under
any key of their output (fetched through ``/view`` and told apart by its bytes: still, animated image,
video, audio) and every text they showed (PreviewAny's ``text``, custom nodes' ``string``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from typing import Any

from bot.comfy.connection import BackendConnection, Disconnected, PromptWatch, Reconciled
from bot.comfy.events import (
    CachedNodes,
    Completed,
    ConnectionLost,
    Finished,
    NodeExecuting,
    NodeText,
    OverallProgress,
    PreviewImage,
    Queued,
    RunEvent,
    RunOutput,
    Started,
    StepProgress,
)
from bot.comfy.http import ComfyHttp, HistoryEntry, OutputFile
from bot.comfy.progress_model import ProgressModel, expected_steps
from bot.comfy.protocol import (
    Executed,
    Executing,
    ExecutionCached,
    ExecutionError,
    ExecutionInterrupted,
    ExecutionStart,
    ExecutionSuccess,
    ImageFrame,
    Progress,
    TextFrame,
)
from bot.errors import (
    ComfyError,
    ExecutionFailed,
    NothingToDeliver,
    OutputsLost,
    OutputTooLarge,
    PromptLost,
    PromptRejected,
)
from bot.errors import (
    ExecutionInterrupted as InterruptedError_,
)
from bot.media.kinds import TEXT_TYPE, OutputKind, file_type

log = logging.getLogger(__name__)

WEBSOCKET_OUTPUT = "SaveImageWebsocket"
DEFAULT_MAX_OUTPUT_BYTES = 256 * 1024 * 1024
"""The largest result file fetched through ``/view`` (OUTPUT_MAX_MB); larger ones are left on the server."""


def sink_nodes(graph: Mapping[str, Any]) -> frozenset[str]:
    """Nodes no other node takes an input from: where a graph's results come out."""
    linked = {
        str(value[0])
        for node in graph.values()
        if isinstance(node, Mapping)
        for value in (node.get("inputs") or {}).values()
        if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str | int)
    }
    return frozenset(str(n) for n in graph if str(n) not in linked)


def class_types(graph: Mapping[str, Any]) -> dict[str, str]:
    return {
        str(node_id): str(node.get("class_type", "?"))
        for node_id, node in graph.items()
        if isinstance(node, Mapping)
    }


@dataclass(slots=True)
class _RunState:
    """Everything learned about one prompt while it runs."""

    prompt_id: str
    classes: dict[str, str]
    output_nodes: frozenset[str]
    progress: ProgressModel
    current: str | None = None
    frames: dict[str, list[RunOutput]] = field(default_factory=dict)
    expected_frames: dict[str, int] = field(default_factory=dict)
    outcome: ServerOutcome | None = None
    gap: bool = False
    finished: bool = False
    history: HistoryEntry | None = None

    def wanted(self, node_id: str) -> bool:
        return node_id in self.output_nodes

    @property
    def websocket_outputs(self) -> list[str]:
        return [n for n, c in self.classes.items() if c == WEBSOCKET_OUTPUT and self.wanted(n)]

    @property
    def file_outputs(self) -> bool:
        """Whether any wanted output leaves its results in ``/history`` (anything but the websocket)."""
        return any(self.classes.get(n) != WEBSOCKET_OUTPUT for n in self.output_nodes)

    def overall(self) -> OverallProgress:
        return self.progress.snapshot()


ServerOutcome = ExecutionSuccess | ExecutionError | ExecutionInterrupted
SubmitGuard = Callable[[], AbstractAsyncContextManager[object]]
"""Entered around ``POST /prompt``: it may refuse the submission by raising (e.g. the job was cancelled),
and whoever must not act while a submission is on the wire can wait for it to be left."""


class PromptRun:
    """An async iterator of RunEvents for one prompt; raises the run's ComfyError at the end.

    ``output_nodes`` are the nodes whose results are wanted (default: the graph's sinks).
    """

    def __init__(
        self,
        http: ComfyHttp,
        connection: BackendConnection,
        graph: Mapping[str, Any],
        *,
        prompt_id: str,
        output_nodes: frozenset[str] | None = None,
        extra_data: Mapping[str, Any] | None = None,
        connect_timeout: float = 10.0,
        attach: bool = False,
        submit_guard: SubmitGuard | None = None,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    ) -> None:
        self._http = http
        self._connection = connection
        self._endpoint = connection.endpoint
        self._graph = graph
        self.prompt_id = prompt_id
        classes = class_types(graph)
        if output_nodes is None:
            output_nodes = sink_nodes(graph)
        self._state = _RunState(
            prompt_id, classes, output_nodes, ProgressModel(classes, expected_steps(graph))
        )
        self._extra_data = extra_data
        self._connect_timeout = connect_timeout
        self._attach = attach
        self._submit_guard = submit_guard
        self._max_output_bytes = max_output_bytes
        self.outputs: tuple[RunOutput, ...] = ()

    def __aiter__(self) -> AsyncIterator[RunEvent]:
        return self._events()

    async def result(self) -> tuple[RunOutput, ...]:
        """Drive the run to its end, ignoring progress; return the results or raise."""
        async for _ in self:
            pass
        return self.outputs

    async def _events(self) -> AsyncIterator[RunEvent]:
        await self._connection.wait_connected(self._connect_timeout)
        watch = self._connection.watch(self.prompt_id)
        try:
            if self._attach:
                watch.submitted = True
                watch.items.put_nowait(await self._connection.reconcile(self.prompt_id))
            else:
                yield await self._submit(watch)
            while not self._state.finished:
                for event in await self._handle(await watch.next()):
                    yield event
            outputs = await self._collect_outputs()
            self.outputs = outputs
            yield Finished(self.prompt_id, outputs)
        finally:
            self._connection.unwatch(self.prompt_id)

    async def _submit(self, watch: PromptWatch) -> Queued:
        connects = self._connection.connects
        guard = self._submit_guard() if self._submit_guard is not None else contextlib.nullcontext()
        async with guard:
            queued = await self._http.queue_prompt(
                self._graph,
                client_id=self._connection.client_id,
                prompt_id=self.prompt_id,
                extra_data=self._extra_data,
            )
        watch.submitted = True
        if self._connection.connects != connects:
            # The socket reconnected while the answer was on its way: that reconnect's reconcile
            # skipped this prompt (it was not submitted yet), and its messages may be lost.
            watch.items.put_nowait(await self._connection.reconcile(self.prompt_id))
        if queued.node_errors:
            # Some outputs failed validation and ComfyUI queued the rest. Half a result would confuse
            # the member, so take it back out and report what was wrong.
            with contextlib.suppress(ComfyError):
                await self._http.delete_pending([self.prompt_id])
                await self._http.interrupt(self.prompt_id)
            raise PromptRejected(
                "partial_validation",
                "some outputs failed validation",
                queued.node_errors,
                partial=True,
                prompt_id=self.prompt_id,
                server=self._endpoint.display_name,
            )
        return Queued(self.prompt_id, queued.number)

    async def _handle(self, item: object) -> list[RunEvent]:
        state = self._state
        if isinstance(item, ExecutionStart):
            return [Started(state.prompt_id)]
        if isinstance(item, ExecutionCached):
            state.progress.cached(item.nodes)
            return [CachedNodes(item.nodes)]
        if isinstance(item, Executing):
            return self._on_executing(item)
        if isinstance(item, Progress):
            return self._on_progress(item)
        if isinstance(item, ImageFrame):
            return self._on_image(item)
        if isinstance(item, TextFrame):
            return [NodeText(item.node_id, item.text)]
        if isinstance(item, ExecutionSuccess | ExecutionError | ExecutionInterrupted):
            state.outcome = item
            return [Completed(state.prompt_id, isinstance(item, ExecutionSuccess))]
        if isinstance(item, Executed):
            return []
        if isinstance(item, Disconnected):
            state.gap = True
            return [ConnectionLost()]
        if isinstance(item, Reconciled):
            return self._on_reconciled(item)
        return []

    def _on_executing(self, item: Executing) -> list[RunEvent]:
        state = self._state
        if item.node is None:
            state.finished = True
            return []
        if item.node == state.current:
            return []
        state.current = item.node
        state.progress.started(item.node)
        return [NodeExecuting(item.node, state.classes.get(item.node, "?")), state.overall()]

    def _on_progress(self, item: Progress) -> list[RunEvent]:
        state = self._state
        class_type = state.classes.get(item.node, "?")
        if class_type == WEBSOCKET_OUTPUT:
            # SaveImageWebsocket counts images 0..N-1 of N: remember N to detect lost frames.
            state.expected_frames[item.node] = int(item.max)
            return []
        state.progress.stepped(item.node, int(item.value), int(item.max))
        return [StepProgress(item.node, class_type, int(item.value), int(item.max)), state.overall()]

    def _on_image(self, frame: ImageFrame) -> list[RunEvent]:
        state = self._state
        node = frame.node_id
        if node is not None and state.wanted(node) and state.classes.get(node) == WEBSOCKET_OUTPUT:
            images = state.frames.setdefault(node, [])
            image = RunOutput(node, len(images), frame.data, frame.mime)
            images.append(image)
            return [image]
        return [PreviewImage(node, frame.data, frame.mime)]

    def _on_reconciled(self, item: Reconciled) -> list[RunEvent]:
        state = self._state
        if item.missing:
            raise PromptLost(self._endpoint.name, state.prompt_id, server=self._endpoint.display_name)
        if item.history is not None:  # an entry is written only when the run ended
            state.history = item.history
            state.finished = True
            if state.outcome is None:
                state.outcome = _outcome_from_history(item.history)
                return [Completed(state.prompt_id, isinstance(state.outcome, ExecutionSuccess))]
        return []

    async def _collect_outputs(self) -> tuple[RunOutput, ...]:
        state = self._state
        outcome = state.outcome
        if outcome is None:
            history = state.history or await self._http.get_history(state.prompt_id)
            if history is None:
                raise PromptLost(self._endpoint.name, state.prompt_id, server=self._endpoint.display_name)
            state.history = history
            outcome = _outcome_from_history(history)
        if isinstance(outcome, ExecutionError):
            raise ExecutionFailed(
                outcome.node_id,
                outcome.node_type,
                outcome.exception_type,
                outcome.exception_message,
                server=self._endpoint.display_name,
            )
        if isinstance(outcome, ExecutionInterrupted):
            raise InterruptedError_(outcome.node_id, outcome.node_type)
        self._check_websocket_frames()
        outputs: list[RunOutput] = [img for node in sorted(state.frames) for img in state.frames[node]]
        if state.file_outputs:
            state.history = state.history or await self._http.get_history(state.prompt_id)
            outputs.extend(await self._history_outputs(state.history, outputs))
        if not outputs:
            raise NothingToDeliver(
                state.prompt_id, self._unusable_note(state.history), server=self._endpoint.display_name
            )
        return tuple(outputs)

    async def _history_outputs(
        self, history: HistoryEntry | None, so_far: list[RunOutput]
    ) -> list[RunOutput]:
        """Every file (fetched) and text of the wanted nodes in ``history``, in the server's order."""
        state = self._state
        found: list[RunOutput] = []
        counts: dict[str, int] = {}
        for output in so_far:
            counts[output.node_id] = counts.get(output.node_id, 0) + 1

        def index_for(node_id: str) -> int:
            counts[node_id] = counts.get(node_id, 0) + 1
            return counts[node_id] - 1

        wanted = [
            f
            for f in (history.outputs if history else ())
            if state.wanted(f.node_id) and state.classes.get(f.node_id) != WEBSOCKET_OUTPUT
        ]
        for file in wanted:
            fetched = await self._fetch(file)
            if fetched is not None:
                found.append(RunOutput(file.node_id, index_for(file.node_id), *fetched, file.filename))
        texts = [t for t in (history.texts if history else ()) if state.wanted(t.node_id) and t.text.strip()]
        found.extend(
            RunOutput(t.node_id, index_for(t.node_id), t.text.encode(), TEXT_TYPE.mime, TEXT_TYPE.kind)
            for t in texts
        )
        return found

    async def _fetch(self, output: OutputFile) -> tuple[bytes, str, OutputKind] | None:
        """One file through ``/view`` with its MIME type and kind; None for a file that is not a kind of
        result (a latent, a model). One over the size cap becomes a note saying so."""
        try:
            data = await self._http.view(output, max_bytes=self._max_output_bytes)
        except OutputTooLarge as exc:
            log.warning("prompt %s: %s", self.prompt_id, exc)
            return exc.user_message.encode(), TEXT_TYPE.mime, TEXT_TYPE.kind
        kind = file_type(data, output.filename)
        if kind is None:
            log.info(
                "prompt %s: %s of node %s is not a result I can post",
                self.prompt_id,
                output.filename,
                output.node_id,
            )
            return None
        if (
            kind.kind is OutputKind.IMAGE
            and output.animated
            and kind.mime in ("image/png", "image/webp", "image/gif")
        ):
            kind = replace(kind, kind=OutputKind.ANIMATION)
        return data, kind.mime, kind.kind

    def _unusable_note(self, history: HistoryEntry | None) -> str:
        names = [f.filename for f in (history.outputs if history else ()) if self._state.wanted(f.node_id)]
        if not names:
            return ""
        listed = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        return f"; it wrote {listed}"

    def _check_websocket_frames(self) -> None:
        state = self._state
        for node in state.websocket_outputs:
            got = len(state.frames.get(node, []))
            expected = state.expected_frames.get(node)
            if got == 0 or (expected is not None and got < expected):
                raise OutputsLost(
                    state.prompt_id,
                    f"node {node} sent {got} of {expected or '?'} images",
                    server=self._endpoint.display_name,
                )


def _outcome_from_history(history: HistoryEntry) -> ServerOutcome:
    pid = history.prompt_id
    error = history.message("execution_error")
    if error is not None:
        return ExecutionError(
            pid,
            str(error.get("node_id", "?")),
            str(error.get("node_type", "?")),
            str(error.get("exception_type", "Exception")),
            str(error.get("exception_message", "")),
        )
    interrupted = history.message("execution_interrupted")
    if interrupted is not None or history.status != "success":
        data = interrupted or {}
        node = data.get("node_id")
        kind = data.get("node_type")
        return ExecutionInterrupted(
            pid, None if node is None else str(node), None if kind is None else str(kind)
        )
    return ExecutionSuccess(pid)
