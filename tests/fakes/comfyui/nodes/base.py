"""Node definitions: the object_info description (which validation reads) plus an async implementation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tests.fakes.comfyui.images import PreviewTuple
from tests.fakes.comfyui.settings import FakeSettings
from tests.fakes.comfyui.storage import Storage

SEED_MAX = 0xFFFFFFFFFFFFFFFF


class Env(Protocol):
    """What node descriptions and validation may look at."""

    settings: FakeSettings
    storage: Storage


InputSpec = list[Any]
"""["INT", {opts}] / ["IMAGE"] / [[choice, ...], {opts}] exactly as /object_info shows it."""
SpecOrFactory = InputSpec | Callable[[Env], InputSpec]


class NodeRuntime(Env, Protocol):
    """What a running node may use (provided by the executor for the node being executed)."""

    node_id: str
    prompt: dict[str, Any]
    extra_data: dict[str, Any]

    async def progress(self, value: int, total: int, preview: PreviewTuple | None = None) -> None:
        """comfy.utils.ProgressBar.update_absolute: checks for interrupts, emits progress (+ image)."""

    async def sleep(self, seconds: float) -> None:
        """Sleep (always yields to the loop, even for 0)."""

    def send_text(self, text: str) -> None:
        """PromptServer.send_progress_text for this node: a TEXT frame broadcast to every socket."""


@dataclass(frozen=True)
class NodeResult:
    outputs: tuple[Any, ...] = ()
    ui: dict[str, Any] | None = None


RunFn = Callable[..., Awaitable[NodeResult]]


@dataclass(frozen=True)
class NodeDef:
    """One node class: its /object_info entry and behaviour."""

    name: str
    display_name: str
    category: str
    output: tuple[str, ...]
    run: RunFn
    required: Mapping[str, SpecOrFactory]
    optional: Mapping[str, SpecOrFactory] = field(default_factory=dict)
    hidden: Mapping[str, str] = field(default_factory=dict)
    output_name: tuple[str, ...] | None = None
    output_node: bool = False
    description: str = ""
    python_module: str = "nodes"
    output_tooltips: tuple[str, ...] | None = None
    deprecated: bool = False
    validate_inputs: tuple[str, ...] = ()
    """Inputs handed to VALIDATE_INPUTS; the generic range/combo checks are skipped for them."""
    validate: Callable[[Env, dict[str, Any]], bool | str] | None = None
    is_changed: Callable[[Env, dict[str, Any]], Any] | None = None
    """IS_CHANGED: a value folded into the cache key (a fresh object every call = never cached)."""

    def input_types(self, env: Env) -> dict[str, dict[str, Any]]:
        types: dict[str, dict[str, Any]] = {"required": _resolve(self.required, env)}
        if self.optional:
            types["optional"] = _resolve(self.optional, env)
        if self.hidden:
            types["hidden"] = dict(self.hidden)
        return types

    def info(self, env: Env) -> dict[str, Any]:
        """The /object_info entry, keys in the server's order."""
        types = self.input_types(env)
        info: dict[str, Any] = {
            "input": types,
            "input_order": {key: list(value) for key, value in types.items()},
            "output": list(self.output),
            "output_is_list": [False] * len(self.output),
            "output_name": list(self.output_name or self.output),
            "name": self.name,
            "display_name": self.display_name,
            "description": self.description,
            "python_module": self.python_module,
            "category": self.category,
            "output_node": self.output_node,
        }
        if self.output_tooltips is not None:
            info["output_tooltips"] = list(self.output_tooltips)
        if self.deprecated:
            info["deprecated"] = True
        return info


def _resolve(specs: Mapping[str, SpecOrFactory], env: Env) -> dict[str, InputSpec]:
    return {name: spec(env) if callable(spec) else spec for name, spec in specs.items()}


def seed_spec(tooltip: str | None = None) -> InputSpec:
    opts: dict[str, Any] = {"default": 0, "min": 0, "max": SEED_MAX, "control_after_generate": True}
    if tooltip:
        opts["tooltip"] = tooltip
    return ["INT", opts]


class Fresh:
    """An IS_CHANGED value that never equals another one (SaveImageWebsocket returns time.time())."""

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)
