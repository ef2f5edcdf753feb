"""Fill a template's graph with validated values: pure, deterministic given the random source.

Values are assigned into a deep copy of the parsed graph (never spliced into JSON text), so no
prompt can add nodes or links: text stays text, whatever it contains.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from bot.errors import InvalidParameter
from bot.templates.coerce import coerce_value
from bot.templates.model import (
    RANDOM_SEED_LIMIT,
    SWAPPABLE_OUTPUTS,
    WEBSOCKET_OUTPUT,
    Action,
    Param,
    ParamType,
    RenderedPrompt,
    Template,
    Value,
)
from bot.templates.vary import apply_pick, split_pick

_NO_UPLOADS: Mapping[str, str] = MappingProxyType({})


def _check_names(template: Template, values: Mapping[str, object], uploaded: Mapping[str, str]) -> None:
    known = {p.name for p in template.params}
    for name in [*values, *uploaded]:
        if not isinstance(name, str) or name not in known:
            listed = ", ".join(p.name for p in template.params) or "none"
            raise InvalidParameter(str(name), f"/{template.name} has no such parameter (it takes: {listed})")
    for name in uploaded:
        if not template.param(name).is_file:
            raise InvalidParameter(name, "is not an image parameter, so it cannot take an upload")


def resolve_values(
    template: Template,
    values: Mapping[str, object],
    *,
    rng: random.Random,
    uploaded: Mapping[str, str] = _NO_UPLOADS,
) -> dict[str, Value]:
    """Coerce the given values, fill defaults, draw missing seeds; the values ``render`` writes.

    Image and mask parameters take their value from ``uploaded`` (the name the backend returned,
    possibly with a subfolder); an entry for them in ``values`` is only used when none was uploaded.
    ``None`` counts as not given (an optional Discord option left empty).
    """
    _check_names(template, values, uploaded)
    resolved: dict[str, Value] = {}
    for param in template.params:
        raw: object = uploaded.get(param.name) if param.is_file else None
        if raw is None:
            raw = values.get(param.name)
        if raw is not None:
            resolved[param.name] = coerce_value(param, raw)
        elif param.default is not None:
            resolved[param.name] = param.default
        elif param.type is ParamType.SEED:
            resolved[param.name] = rng.randrange(RANDOM_SEED_LIMIT)
        elif param.required:
            what = "an uploaded image" if param.is_file else "a value"
            raise InvalidParameter(param.name, f"is required; give it {what}")
    return resolved


def write_value(graph: dict[str, Any], param: Param, value: Value) -> None:
    """Assign a coerced value to every target of ``param`` in ``graph`` (in place)."""
    if param.type is ParamType.CHOICE and param.choices:
        choice = param.choice(str(value))
        for target in param.targets:
            inputs = graph[target.node_id]["inputs"]
            if choice.is_table:
                inputs.update(choice.as_inputs())
            elif target.input is not None:
                inputs[target.input] = choice.value
        return
    for target in param.targets:
        if target.input is not None:
            graph[target.node_id]["inputs"][target.input] = value


def swap_outputs(graph: dict[str, Any], outputs: tuple[str, ...]) -> frozenset[str]:
    """Replace SaveImage/PreviewImage outputs by SaveImageWebsocket in place; returns its output ids."""
    websocket: set[str] = set()
    for node_id in outputs:
        node = graph[node_id]
        if node["class_type"] in SWAPPABLE_OUTPUTS:
            node["class_type"] = WEBSOCKET_OUTPUT
            node["inputs"] = {"images": node["inputs"]["images"]}
        if node["class_type"] == WEBSOCKET_OUTPUT:
            websocket.add(node_id)
    return frozenset(websocket)


def render(
    template: Template,
    values: Mapping[str, object],
    *,
    rng: random.Random,
    uploaded: Mapping[str, str] = _NO_UPLOADS,
) -> RenderedPrompt:
    """The graph to queue for ``values`` (raw or coerced), with the values and output nodes used.

    Raises ``InvalidParameter`` for unknown parameters, missing required ones and bad values. A Vary
    job's pick (``vary.PICK_KEY``) makes the batch yield only that image.
    """
    values, pick = split_pick(values)
    resolved = resolve_values(template, values, rng=rng, uploaded=uploaded)
    graph: dict[str, Any] = copy.deepcopy(dict(template.graph))
    for param in template.params:
        if param.name in resolved:
            write_value(graph, param, resolved[param.name])
    if pick is not None:
        apply_pick(graph, template, pick)
    websocket: frozenset[str] = frozenset()
    if template.websocket_outputs:
        websocket = swap_outputs(graph, template.outputs)
    else:
        websocket = frozenset(n for n in template.outputs if graph[n]["class_type"] == WEBSOCKET_OUTPUT)
    seeds = [resolved[p.name] for p in template.params if p.type is ParamType.SEED and p.name in resolved]
    seed = seeds[0] if seeds and isinstance(seeds[0], int) else None
    return RenderedPrompt(
        template=template.name,
        graph=graph,
        values=MappingProxyType(resolved),
        seed=seed,
        output_nodes=frozenset(template.outputs),
        websocket_nodes=websocket,
    )


def follow_up_values(action: Action, target: Template, previous: Mapping[str, Value]) -> dict[str, Value]:
    """Values for running ``action`` on a result: the previous job's values that fit ``target``
    (same name, valid there; e.g. the prompt), then the action's fixed values on top.

    The result image itself goes in ``uploaded`` under ``action.image_param``.
    """
    values: dict[str, Value] = {}
    for name, value in previous.items():
        if name == action.image_param or not target.has_param(name) or target.param(name).is_file:
            continue
        try:
            values[name] = coerce_value(target.param(name), value)
        except InvalidParameter:
            continue
    values.update(action.fixed_values())
    return values
