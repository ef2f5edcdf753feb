"""Check templates against a backend's ``GET /object_info`` (a plain dict; no I/O here).

A template is capable on a backend when every node class exists, every targeted input exists with a
compatible type, and every combo value it can send (checkpoints, samplers, schedulers, choice values)
is offered there.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from bot.templates.graph import describe_node, inputs_of, link_source
from bot.templates.model import Capability, Choice, Param, ParamType, RenderedPrompt, Template, Value
from bot.templates.render import swap_outputs, write_value

ObjectInfo = Mapping[str, Any]
_WIDGETS = frozenset({"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"})
_MAX_LISTED = 8


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One input of a node class as ``/object_info`` describes it."""

    kind: str  # INT, FLOAT, STRING, BOOLEAN, COMBO, or a link type such as IMAGE or MODEL
    required: bool
    options: tuple[object, ...] = ()
    min: float | None = None
    max: float | None = None
    image_upload: bool = False


def _spec(raw: object, required: bool) -> InputSpec | None:
    if isinstance(raw, str):
        return InputSpec(raw, required)
    if not isinstance(raw, list | tuple) or not raw:
        return None
    head = raw[0]
    opts: Mapping[str, Any] = raw[1] if len(raw) > 1 and isinstance(raw[1], Mapping) else {}
    low, high = opts.get("min"), opts.get("max")
    number_low = float(low) if isinstance(low, int | float) and not isinstance(low, bool) else None
    number_high = float(high) if isinstance(high, int | float) and not isinstance(high, bool) else None
    upload = bool(opts.get("image_upload"))
    if isinstance(head, list | tuple):
        return InputSpec("COMBO", required, tuple(head), image_upload=upload)
    if head == "COMBO":
        options = opts.get("options", ())
        return InputSpec(
            "COMBO",
            required,
            tuple(options) if isinstance(options, list | tuple) else (),
            image_upload=upload,
        )
    if isinstance(head, str):
        return InputSpec(head, required, (), number_low, number_high, upload)
    return None


def class_inputs(info: object) -> dict[str, InputSpec] | None:
    """The inputs of one ``/object_info`` class entry (None when the entry is unusable)."""
    if not isinstance(info, Mapping) or not isinstance(info.get("input"), Mapping):
        return None
    specs: dict[str, InputSpec] = {}
    for section, required in (("required", True), ("optional", False)):
        entries = info["input"].get(section) or {}
        if not isinstance(entries, Mapping):
            continue
        for name, raw in entries.items():
            spec = _spec(raw, required)
            if spec is not None:
                specs[str(name)] = spec
    return specs


def _listed(options: Iterable[object]) -> str:
    items = [str(o) for o in options]
    if not items:
        return "this backend has none installed"
    more = f" and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return "this backend offers " + ", ".join(items[:_MAX_LISTED]) + more


def _default_graph(template: Template) -> dict[str, Any]:
    """The graph as it runs when nobody gives a value (defaults written, outputs swapped)."""
    graph: dict[str, Any] = copy.deepcopy(dict(template.graph))
    for param in template.params:
        if param.default is not None:
            write_value(graph, param, param.default)
    if template.websocket_outputs:
        swap_outputs(graph, template.outputs)
    return graph


def _free_inputs(template: Template, rendered: bool) -> set[tuple[str, str]]:
    """Inputs whose workflow value is never sent as is, so the backend need not offer it."""
    free: set[tuple[str, str]] = set()
    for param in template.params:
        if param.is_file or (not rendered and (param.required or param.type is ParamType.SEED)):
            free.update((t.node_id, t.input) for t in param.targets if t.input is not None)
    return free


def _value_reason(where: str, name: str, value: object, spec: InputSpec) -> str | None:
    if spec.kind == "COMBO":
        if value not in spec.options:
            return f"{where}: {name} {value!r} is not available ({_listed(spec.options)})"
        return None
    if spec.kind in ("INT", "FLOAT") and isinstance(value, int | float) and not isinstance(value, bool):
        if spec.min is not None and value < spec.min:
            return f"{where}: {name} {value} is below this backend's minimum {spec.min:g}"
        if spec.max is not None and value > spec.max:
            return f"{where}: {name} {value} is above this backend's maximum {spec.max:g}"
    return None


def _graph_reasons(
    graph: Mapping[str, Any], object_info: ObjectInfo, free: set[tuple[str, str]]
) -> list[str]:
    reasons: list[str] = []
    for node_id, node in graph.items():
        class_type = str(node.get("class_type"))
        where = describe_node(graph, node_id)
        if class_type not in object_info:
            reasons.append(f"{where}: node type {class_type} is not installed on this backend")
            continue
        specs = class_inputs(object_info[class_type])
        if specs is None:
            reasons.append(f"{where}: this backend's /object_info entry for {class_type} is unusable")
            continue
        inputs = inputs_of(graph, node_id)
        for name, spec in specs.items():
            if spec.required and name not in inputs:
                reasons.append(
                    f"{where}: required input '{name}' is missing (workflow from another ComfyUI version?)"
                )
        for name, value in inputs.items():
            spec_or_none = specs.get(name)
            if spec_or_none is None or link_source(value) is not None or (node_id, name) in free:
                continue
            if spec_or_none.image_upload:
                continue
            if (reason := _value_reason(where, name, value, spec_or_none)) is not None:
                reasons.append(reason)
    return reasons


_PARAM_KINDS: dict[ParamType, frozenset[str]] = {
    ParamType.TEXT: frozenset({"STRING"}),
    ParamType.INT: frozenset({"INT"}),
    ParamType.SEED: frozenset({"INT"}),
    ParamType.FLOAT: frozenset({"FLOAT"}),
    ParamType.BOOL: frozenset({"BOOLEAN"}),
    ParamType.IMAGE: frozenset({"COMBO", "STRING"}),
    ParamType.MASK: frozenset({"COMBO", "STRING"}),
}


def _value_kinds(value: Value | None) -> frozenset[str]:
    if isinstance(value, bool):
        return frozenset({"BOOLEAN"})
    if isinstance(value, int):
        return frozenset({"INT", "FLOAT"})
    if isinstance(value, float):
        return frozenset({"FLOAT"}) if not value.is_integer() else frozenset({"INT", "FLOAT"})
    return frozenset({"STRING", "COMBO"})


def _param_reasons(template: Template, param: Param, object_info: ObjectInfo) -> list[str]:
    reasons: list[str] = []
    graph = template.graph
    for target in param.targets:
        class_type = template.class_type(target.node_id)
        specs = class_inputs(object_info.get(class_type))
        if specs is None:
            continue  # already reported as a missing node type
        where = f"param '{param.name}'"
        names = (
            [target.input]
            if target.input
            else list(dict.fromkeys(n for c in param.choices for n, _ in c.inputs))
        )
        for name in names:
            spec = specs.get(name)
            node = describe_node(graph, target.node_id)
            if spec is None:
                reasons.append(f"{where}: {node} has no input '{name}' on this backend")
                continue
            if spec.kind not in _WIDGETS:
                reasons.append(
                    f"{where}: input '{name}' of {node} takes a {spec.kind} link here, not a value"
                )
                continue
            reasons.extend(_typed_reasons(where, node, name, spec, param))
    return reasons


def _typed_reasons(where: str, node: str, name: str, spec: InputSpec, param: Param) -> list[str]:
    reasons: list[str] = []
    if param.type is ParamType.CHOICE:
        if param.from_backend:
            if spec.kind != "COMBO":
                reasons.append(f"{where}: input '{name}' of {node} is {spec.kind}, not a list to choose from")
            return reasons
        for choice in param.choices:
            value = choice.as_inputs().get(name) if choice.is_table else choice.value
            if spec.kind not in _value_kinds(value):
                reasons.append(
                    f"{where}: choice '{choice.label}' gives {value!r} but '{name}' of {node} is {spec.kind}"
                )
            elif (
                reason := _value_reason(f"{where}: choice '{choice.label}'", name, value, spec)
            ) is not None:
                reasons.append(reason)
        return reasons
    if spec.kind not in _PARAM_KINDS[param.type]:
        reasons.append(
            f"{where}: a {param.type.value} parameter cannot set '{name}' of {node}, which is {spec.kind}"
        )
        return reasons
    if param.type in (ParamType.INT, ParamType.FLOAT):
        if spec.min is not None and (param.min is None or param.min < spec.min):
            low = "no minimum" if param.min is None else f"{param.min:g}"
            reasons.append(f"{where}: allows {low} but '{name}' of {node} needs at least {spec.min:g} here")
        if spec.max is not None and (param.max is None or param.max > spec.max):
            high = "no maximum" if param.max is None else f"{param.max:g}"
            reasons.append(f"{where}: allows {high} but '{name}' of {node} accepts at most {spec.max:g} here")
    return reasons


def _output_reasons(template: Template, object_info: ObjectInfo) -> list[str]:
    """Declared outputs must all be output nodes here; inferred ones (a guess at a custom node that ends
    the graph) need only one that is, since ComfyUI runs output nodes and ignores the rest."""
    not_outputs = []
    for node_id in template.outputs:
        info = object_info.get(template.class_type(node_id))
        if isinstance(info, Mapping) and info.get("output_node") is False:
            not_outputs.append(node_id)
    if template.outputs_declared:
        return [
            f"{describe_node(template.graph, node_id)} is declared an output but is not an output node"
            for node_id in not_outputs
        ]
    if template.outputs and len(not_outputs) == len(template.outputs):
        named = ", ".join(describe_node(template.graph, n) for n in not_outputs)
        return [f"no output node: {named} is not an output node here; declare [outputs] nodes in a manifest"]
    return []


def preflight(
    template: Template,
    object_info: ObjectInfo,
    *,
    backend: str = "",
    rendered: RenderedPrompt | None = None,
) -> Capability:
    """Whether ``backend`` can run ``template`` (with its defaults, or the ``rendered`` graph of a job)."""
    graph = rendered.graph if rendered is not None else _default_graph(template)
    reasons = _graph_reasons(graph, object_info, _free_inputs(template, rendered is not None))
    for param in template.params:
        reasons.extend(_param_reasons(template, param, object_info))
    reasons.extend(_output_reasons(template, object_info))
    return Capability(template.name, backend, tuple(dict.fromkeys(reasons)))


def capability_map(
    templates: Iterable[Template], object_infos: Mapping[str, ObjectInfo]
) -> dict[str, dict[str, Capability]]:
    """``{template name: {backend name: Capability}}`` for every pair."""
    return {
        template.name: {
            backend: preflight(template, info, backend=backend) for backend, info in object_infos.items()
        }
        for template in templates
    }


def backend_options(template: Template, param: Param, object_info: ObjectInfo) -> tuple[str, ...]:
    """What one backend offers for ``param``: its combo list (checkpoints, samplers...) for autocomplete.

    For a choice with declared options, the labels whose values the backend accepts.
    """
    if param.type is not ParamType.CHOICE:
        return ()
    if param.choices:
        return tuple(
            c.label for c in param.choices if not _param_reasons(template, _only(param, c), object_info)
        )
    offered: list[str] | None = None
    for target in param.targets:
        specs = class_inputs(object_info.get(template.class_type(target.node_id)))
        spec = specs.get(target.input) if specs is not None and target.input else None
        if spec is None or spec.kind != "COMBO":
            return ()
        names = [str(o) for o in spec.options if isinstance(o, str)]
        offered = names if offered is None else [n for n in offered if n in set(names)]
    return tuple(offered or ())


def merged_backend_options(
    template: Template, param: Param, object_infos: Iterable[ObjectInfo]
) -> tuple[str, ...]:
    """The union of ``backend_options`` over several backends, in first-seen order."""
    merged: dict[str, None] = {}
    for info in object_infos:
        merged.update(dict.fromkeys(backend_options(template, param, info)))
    return tuple(merged)


def _only(param: Param, choice: Choice) -> Param:
    return replace(param, choices=(choice,))


__all__ = [
    "InputSpec",
    "ObjectInfo",
    "backend_options",
    "capability_map",
    "class_inputs",
    "merged_backend_options",
    "preflight",
]
