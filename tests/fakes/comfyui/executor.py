"""The single prompt worker: caching, execution order, progress and the exact message sequence of a run."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import traceback
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, NamedTuple

from PIL import Image

from .errors import make_exception
from .graph import ExecutionList, signatures
from .hub import SocketHub
from .images import PreviewTuple, describe_batch, legacy_image_frame, metadata_image_frame, text_frame
from .nodes import NODES, Env, Fresh, NodeDef
from .prompt_queue import PromptQueue, QueueItem
from .settings import FakeSettings
from .storage import Storage
from .validation import full_type_name, is_link


class ExecutionRecord(NamedTuple):
    """One prompt taken by the worker; times are time.monotonic()."""

    prompt_id: str
    started_at: float
    ended_at: float
    outcome: str
    """"success", "error", "interrupted", or "lost" (server stopped while it ran)."""


class Interrupted(Exception):
    """comfy.model_management.InterruptProcessingException."""


@dataclass
class ArmedFailure:
    exception_type: str
    message: str
    remaining: int | None


def format_value(value: Any) -> Any:
    if value is None or isinstance(value, int | float | bool | str):
        return value
    if isinstance(value, list) and value and all(isinstance(v, Image.Image) for v in value):
        return describe_batch(value)
    return str(value)


class NodeCache:
    """Outputs and UI results keyed by input signature; only keys of the current prompt survive a run."""

    def __init__(self) -> None:
        self.outputs: dict[Hashable, tuple[Any, ...]] = {}
        self.ui: dict[Hashable, dict[str, Any]] = {}
        self.keys: dict[str, Hashable] = {}

    def set_prompt(self, keys: dict[str, Hashable]) -> None:
        self.keys = keys
        used = set(keys.values())
        self.outputs = {k: v for k, v in self.outputs.items() if k in used}
        self.ui = {k: v for k, v in self.ui.items() if k in used}

    def get(self, node_id: str) -> tuple[Any, ...] | None:
        return self.outputs.get(self.keys[node_id]) if node_id in self.keys else None

    def get_ui(self, node_id: str) -> dict[str, Any] | None:
        return self.ui.get(self.keys[node_id]) if node_id in self.keys else None

    def set(self, node_id: str, outputs: tuple[Any, ...]) -> None:
        self.outputs[self.keys[node_id]] = outputs

    def set_ui(self, node_id: str, ui: dict[str, Any]) -> None:
        self.ui[self.keys[node_id]] = ui


@dataclass
class _Failure:
    node_id: str
    interrupted: bool
    details: dict[str, Any]


class Executor:
    """Runs queued prompts one at a time (the server's prompt_worker thread, as an asyncio task)."""

    def __init__(
        self,
        env: Env,
        hub: SocketHub,
        queue: PromptQueue,
        records: list[ExecutionRecord],
        failures: dict[str, ArmedFailure],
    ) -> None:
        self.env = env
        self.hub = hub
        self.queue = queue
        self.records = records
        self.failures = failures
        self.cache = NodeCache()
        self.interrupted = False
        self.running: QueueItem | None = None
        self.unpaused = asyncio.Event()
        """Cleared by a test to hold a running prompt at its next step (see FakeComfyUI.pause)."""
        self.unpaused.set()
        self._task: asyncio.Task[None] | None = None

    @property
    def settings(self) -> FakeSettings:
        return self.env.settings

    def start(self) -> None:
        self._task = asyncio.create_task(self._worker(), name="fake-comfyui-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def interrupt(self) -> None:
        self.interrupted = True

    def check_interrupt(self) -> None:
        """throw_exception_if_processing_interrupted: raises once and clears the flag."""
        if self.interrupted:
            self.interrupted = False
            raise Interrupted

    async def _worker(self) -> None:
        while True:
            item, task_id = await self.queue.get()
            self.running = item
            started = time.monotonic()
            try:
                outcome, history = await _PromptRun(self, item).execute()
            except asyncio.CancelledError:
                self.queue.drop_running(task_id)
                self.records.append(ExecutionRecord(item.prompt_id, started, time.monotonic(), "lost"))
                raise
            finally:
                self.running = None
            self.queue.task_done(task_id, history)
            if self.hub.client_id is not None:
                self.hub.send("executing", {"node": None, "prompt_id": item.prompt_id}, self.hub.client_id)
            self.records.append(ExecutionRecord(item.prompt_id, started, time.monotonic(), outcome))

    def is_changed(self, prompt: dict[str, Any], node_id: str) -> Any:
        node = prompt[node_id]
        if node["class_type"] in self.failures:
            return Fresh()
        nodedef = NODES[node["class_type"]]
        if nodedef.is_changed is None:
            return False
        literals = {k: v for k, v in node["inputs"].items() if not is_link(v)}
        try:
            return nodedef.is_changed(self.env, literals)
        except Exception:
            return float("nan")

    def armed_failure(self, class_type: str) -> Exception | None:
        armed = self.failures.get(class_type)
        if armed is None:
            return None
        if armed.remaining is not None:
            armed.remaining -= 1
            if armed.remaining <= 0:
                del self.failures[class_type]
        return make_exception(armed.exception_type, armed.message)


class _NodeContext:
    """The NodeRuntime handed to a node implementation while it runs."""

    def __init__(self, run: _PromptRun, node_id: str) -> None:
        self._run = run
        self.node_id = node_id
        self.prompt = run.prompt
        self.extra_data = run.item.extra_data
        self.settings = run.executor.settings
        self.storage: Storage = run.executor.env.storage

    async def progress(self, value: int, total: int, preview: PreviewTuple | None = None) -> None:
        await self._run.progress_hook(self.node_id, min(value, total), total, preview)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def send_text(self, text: str) -> None:
        self._run.executor.hub.send_frame(text_frame(self.node_id, text), None)


class _PromptRun:
    """One execute_async call."""

    def __init__(self, executor: Executor, item: QueueItem) -> None:
        self.executor = executor
        self.hub = executor.hub
        self.cache = executor.cache
        self.item = item
        self.prompt = item.prompt
        self.prompt_id = item.prompt_id
        self.client_id: str | None = item.extra_data.get("client_id")
        self.messages: list[list[Any]] = []
        self.progress: dict[str, dict[str, Any]] = {}
        self.executed: list[str] = []
        self.touched: list[str] = []

    def add_message(self, event: str, data: dict[str, Any], *, broadcast: bool) -> None:
        data = {**data, "timestamp": int(time.time() * 1000)}
        self.messages.append([event, data])
        if self.client_id is not None or broadcast:
            self.hub.send(event, data, self.client_id)

    async def execute(self) -> tuple[str, dict[str, Any]]:
        self.executor.interrupted = False
        self.hub.client_id = self.client_id
        self.add_message("execution_start", {"prompt_id": self.prompt_id}, broadcast=False)
        self.cache.set_prompt(signatures(self.executor.env, self.prompt, self._is_changed))
        cached = [node_id for node_id in self.prompt if self.cache.get(node_id) is not None]
        self.add_message("execution_cached", {"nodes": cached, "prompt_id": self.prompt_id}, broadcast=False)

        order = ExecutionList(self.prompt, lambda node_id: self.cache.get(node_id) is not None)
        for output in self.item.outputs:
            order.add_node(output)
        outcome = "success"
        while not order.is_empty():
            node_id = order.next_node()
            if node_id is None:
                failure: _Failure | None = _Failure(order.cycle()[0], False, self._cycle_details())
            else:
                failure = await self._execute_node(node_id)
            if failure is not None:
                outcome = "interrupted" if failure.interrupted else "error"
                self._report(failure)
                break
            assert node_id is not None
            order.complete(node_id)
        else:
            self.add_message("execution_success", {"prompt_id": self.prompt_id}, broadcast=False)
        self.hub.last_node_id = None
        return outcome, self._history(outcome)

    def _is_changed(self, node_id: str) -> Any:
        return self.executor.is_changed(self.prompt, node_id)

    def _history(self, outcome: str) -> dict[str, Any]:
        outputs: dict[str, Any] = {}
        meta: dict[str, Any] = {}
        for node_id in [*self.touched, *(n for n in self.prompt if n not in self.touched)]:
            ui = self.cache.get_ui(node_id)
            if ui is not None:
                outputs[node_id] = ui["output"]
                meta[node_id] = ui["meta"]
        status = {
            "status_str": "success" if outcome == "success" else "error",
            "completed": outcome == "success",
        }
        return {"outputs": outputs, "status": {**status, "messages": self.messages}, "meta": meta}

    # -- progress (comfy_execution.progress + main.hijack_progress) ------------------------------------

    def _entry(self, node_id: str) -> dict[str, Any]:
        return self.progress.setdefault(node_id, {"state": "pending", "value": 0, "max": 1})

    def _send_progress_state(self) -> None:
        nodes = {
            node_id: {
                "value": entry["value"],
                "max": entry["max"],
                "state": entry["state"],
                "node_id": node_id,
                "prompt_id": self.prompt_id,
                "display_node_id": node_id,
                "parent_node_id": None,
                "real_node_id": node_id,
            }
            for node_id, entry in self.progress.items()
            if entry["state"] != "pending"
        }
        self.hub.send("progress_state", {"prompt_id": self.prompt_id, "nodes": nodes}, self.client_id)

    def _start_progress(self, node_id: str) -> None:
        self._entry(node_id).update(state="running", value=0.0, max=1.0)
        self._send_progress_state()

    def _finish_progress(self, node_id: str) -> None:
        entry = self._entry(node_id)
        entry.update(state="finished", value=entry["max"])
        self._send_progress_state()

    async def progress_hook(self, node_id: str, value: int, total: int, preview: PreviewTuple | None) -> None:
        await self.executor.unpaused.wait()
        self.executor.check_interrupt()
        self._entry(node_id).update(state="running", value=value, max=total)
        self._send_progress_state()
        metadata_client = self.hub.supports_metadata(self.client_id)
        if preview is not None and metadata_client:
            meta = {
                "node_id": node_id,
                "prompt_id": self.prompt_id,
                "display_node_id": node_id,
                "parent_node_id": None,
                "real_node_id": node_id,
            }
            self.hub.send_frame(metadata_image_frame(preview, meta), self.client_id)
        progress = {"value": value, "max": total, "prompt_id": self.prompt_id, "node": node_id}
        self.hub.send("progress", progress, self.client_id)
        if preview is not None and not metadata_client:
            self.hub.send_frame(legacy_image_frame(preview), self.client_id)

    # -- one node (execution.execute) -------------------------------------------------------------------

    async def _execute_node(self, node_id: str) -> _Failure | None:
        class_type = self.prompt[node_id]["class_type"]
        nodedef = NODES[class_type]
        if self.cache.get(node_id) is not None:
            if self.client_id is not None:
                ui = self.cache.get_ui(node_id)
                executed = {
                    "node": node_id,
                    "display_node": node_id,
                    "output": ui["output"] if ui else None,
                    "prompt_id": self.prompt_id,
                }
                self.hub.send("executed", executed, self.client_id)
            self.touched.append(node_id)
            self._finish_progress(node_id)
            return None
        inputs: dict[str, Any] | None = None
        try:
            self._start_progress(node_id)
            inputs = self._gather_inputs(node_id, nodedef)
            if self.client_id is not None:
                self.hub.last_node_id = node_id
                executing = {"node": node_id, "display_node": node_id, "prompt_id": self.prompt_id}
                self.hub.send("executing", executing, self.client_id)
            self.executor.check_interrupt()
            injected = self.executor.armed_failure(class_type)
            if injected is not None:
                raise injected
            result = await nodedef.run(_NodeContext(self, node_id), **inputs)
        except Interrupted:
            return _Failure(node_id, True, {})
        except Exception as ex:
            _, _, tb = sys.exc_info()
            current = {name: [format_value(value)] for name, value in (inputs or {}).items()}
            details = {
                "exception_message": f"{ex}\n",
                "exception_type": full_type_name(type(ex)),
                "traceback": traceback.format_tb(tb),
                "current_inputs": current,
            }
            return _Failure(node_id, False, details)
        if result.ui:
            meta = {"node_id": node_id, "display_node": node_id, "parent_node": None, "real_node_id": node_id}
            self.cache.set_ui(node_id, {"meta": meta, "output": result.ui})
            if self.client_id is not None:
                executed = {
                    "node": node_id,
                    "display_node": node_id,
                    "output": result.ui,
                    "prompt_id": self.prompt_id,
                }
                self.hub.send("executed", executed, self.client_id)
        self.cache.set(node_id, result.outputs)
        self.touched.append(node_id)
        self._finish_progress(node_id)
        self.executed.append(node_id)
        return None

    def _gather_inputs(self, node_id: str, nodedef: NodeDef) -> dict[str, Any]:
        node_inputs = self.prompt[node_id]["inputs"]
        types = nodedef.input_types(self.executor.env)
        data: dict[str, Any] = {}
        for name in [*types.get("required", {}), *types.get("optional", {})]:
            if name not in node_inputs:
                continue
            value = node_inputs[name]
            if is_link(value):
                upstream = self.cache.get(value[0])
                if upstream is None:
                    continue
                value = upstream[value[1]]
            data[name] = value
        hidden_values = {
            "PROMPT": self.prompt,
            "EXTRA_PNGINFO": self.item.extra_data.get("extra_pnginfo"),
            "UNIQUE_ID": node_id,
        }
        for name, kind in nodedef.hidden.items():
            data[name] = hidden_values.get(kind)
        return data

    def _cycle_details(self) -> dict[str, Any]:
        return {
            "exception_message": "Dependency cycle detected",
            "exception_type": "graph.DependencyCycleError",
            "traceback": [],
            "current_inputs": [],
        }

    def _report(self, failure: _Failure) -> None:
        base = {
            "prompt_id": self.prompt_id,
            "node_id": failure.node_id,
            "node_type": self.prompt[failure.node_id]["class_type"],
            "executed": list(reversed(self.executed)),
        }
        if failure.interrupted:
            self.add_message("execution_interrupted", base, broadcast=True)
        else:
            error = {**base, **failure.details, "current_outputs": list(self.prompt)}
            self.add_message("execution_error", error, broadcast=False)
