"""Parse a manifest (``workflows/<stem>.toml``, already read by tomllib) against its graph.

The format is documented in ``workflows/README.md``. Every problem is collected; nothing stops at the
first one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot.templates.checks import (
    default_problem,
    matching_choice,
    param_fits,
    target_problems,
    workflow_values,
)
from bot.templates.coerce import coerce_value
from bot.templates.discord_rules import sanitize_command_name
from bot.templates.graph import describe_node, resolve_node, resolve_target
from bot.templates.model import (
    SWAPPABLE_OUTPUTS,
    Action,
    Choice,
    Graph,
    Param,
    ParamType,
    Target,
    Template,
    Value,
    VaryMode,
)
from bot.templates.outputs import batch_target, infer_outputs, undeliverable

_TOP_KEYS = frozenset({"command", "params", "outputs", "actions"})
_COMMAND_KEYS = frozenset({"name", "description", "nsfw"})
_OUTPUT_KEYS = frozenset({"nodes", "websocket", "vary"})
_ACTION_KEYS = frozenset({"label", "template", "image_param", "values"})
_TARGET_KEYS = frozenset({"node", "input"})
_COMMON_KEYS = frozenset({"type", "description", "required", "default", "target", "targets"})
_TYPE_KEYS: dict[ParamType, frozenset[str]] = {
    ParamType.TEXT: frozenset({"max_length"}),
    ParamType.INT: frozenset({"min", "max", "step"}),
    ParamType.FLOAT: frozenset({"min", "max", "step"}),
    ParamType.BOOL: frozenset(),
    ParamType.CHOICE: frozenset({"choices"}),
    ParamType.SEED: frozenset(),
    ParamType.IMAGE: frozenset(),
    ParamType.MASK: frozenset(),
}


@dataclass
class Problems:
    """Collects ``(where, message)`` pairs for one file."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.items.append((where, message))

    def __bool__(self) -> bool:
        return bool(self.items)


def default_description(stem: str) -> str:
    return f"Run the {stem} workflow"[:100]


def _unknown_keys(table: Mapping[str, Any], allowed: frozenset[str], where: str, problems: Problems) -> None:
    for key in table:
        if key not in allowed:
            problems.add(where, f"unknown key '{key}' (allowed: {', '.join(sorted(allowed))})")


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


def _parse_choices(raw: object, where: str, problems: Problems) -> tuple[Choice, ...]:
    if not isinstance(raw, Mapping):
        problems.add(where, "choices must be a table of label = value (or label = { input = value, ... })")
        return ()
    if not raw:
        problems.add(where, "choices is empty; leave it out to offer the server's own list instead")
        return ()
    choices: list[Choice] = []
    for label, value in raw.items():
        if _is_scalar(value):
            choices.append(Choice(str(label), value=value))
        elif isinstance(value, Mapping) and value and all(_is_scalar(v) for v in value.values()):
            choices.append(Choice(str(label), inputs=tuple((str(k), v) for k, v in value.items())))
        else:
            problems.add(
                where, f"choice '{label}' must be a text/number/boolean or a non-empty table of such values"
            )
    if len({c.is_table for c in choices}) > 1:
        problems.add(where, "choices mix single values and tables; use one kind")
    return tuple(choices)


def _parse_target(graph: Graph, raw: object, where: str, problems: Problems) -> Target | None:
    if isinstance(raw, str):
        target, error = resolve_target(graph, raw)
        if target is None:
            problems.add(where, f"target '{raw}': {error}")
        return target
    if isinstance(raw, Mapping):
        _unknown_keys(raw, _TARGET_KEYS, where, problems)
        node, input_name = raw.get("node"), raw.get("input")
        if not isinstance(node, str) or (input_name is not None and not isinstance(input_name, str)):
            problems.add(where, 'a target table needs node = "<id or title>" and optionally input = "<name>"')
            return None
        found = resolve_node(graph, node)
        if found.unique is None:
            _, error = resolve_target(graph, node)
            problems.add(where, f"target node '{node}': {error}")
            return None
        return Target(found.unique, input_name)
    problems.add(where, 'a target is "<node>.<input>", "<node>" or { node = ..., input = ... }')
    return None


def _parse_targets(
    graph: Graph, table: Mapping[str, Any], where: str, problems: Problems
) -> tuple[Target, ...]:
    if "target" in table and "targets" in table:
        problems.add(where, "give either target or targets, not both")
        return ()
    raw = table.get("targets", table.get("target"))
    if raw is None:
        problems.add(where, 'needs a target (e.g. target = "6.text" or target = "Positive Prompt.text")')
        return ()
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        problems.add(where, "targets is empty")
    targets = [_parse_target(graph, item, where, problems) for item in items]
    return tuple(t for t in targets if t is not None)


def _number(
    table: Mapping[str, Any], key: str, kind: ParamType, where: str, problems: Problems
) -> int | float | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(where, f"{key} must be a number")
        return None
    if kind is ParamType.INT:
        if not isinstance(value, int):
            problems.add(where, f"{key} must be a whole number for an int parameter")
            return None
        return value
    return float(value)


def _bounds(
    table: Mapping[str, Any], kind: ParamType, where: str, problems: Problems
) -> tuple[int | float | None, int | float | None, int | float | None]:
    low = _number(table, "min", kind, where, problems)
    high = _number(table, "max", kind, where, problems)
    step = _number(table, "step", kind, where, problems)
    if low is not None and high is not None and low > high:
        problems.add(where, f"min {low} is above max {high}")
    if step is not None and step <= 0:
        problems.add(where, "step must be positive")
        step = None
    return low, high, step


def _default(
    graph: Graph, param: Param, table: Mapping[str, Any], where: str, problems: Problems
) -> Value | None:
    """The parameter's default: declared, or what the workflow holds now (None = leave as is)."""
    if "default" in table:
        raw = table["default"]
        if param.required:
            problems.add(where, "is required and has a default; drop one of them")
            return None
        if param.is_file:
            problems.add(where, f"{param.type.value} parameters take an upload and cannot have a default")
            return None
        if (problem := default_problem(param, raw)) is not None:
            problems.add(where, problem)
            return None
        return coerce_value(param, raw)
    if param.required or param.is_file or param.type is ParamType.SEED:
        return None
    if param.type is ParamType.CHOICE and param.choices:
        return matching_choice(graph, param)
    values = [v for v in workflow_values(graph, param) if param_fits(param, v)]
    distinct: list[object] = []
    for value in values:
        if not any(type(value) is type(seen) and value == seen for seen in distinct):
            distinct.append(value)
    for value in distinct:
        if (problem := default_problem(param, value, "the workflow's value")) is not None:
            problems.add(where, problem)
            return None
    return coerce_value(param, distinct[0]) if len(distinct) == 1 else None


def parse_param(
    graph: Graph, name: str, table: object, swapped: frozenset[str], problems: Problems
) -> Param | None:
    """One ``[params.<name>]`` table, resolved against the graph."""
    where = f"param '{name}'"
    if not isinstance(table, Mapping):
        problems.add(where, "must be a table ([params.<name>] with type = ... and target = ...)")
        return None
    raw_type = table.get("type")
    if raw_type not in {t.value for t in ParamType}:
        problems.add(where, f"type must be one of {', '.join(t.value for t in ParamType)} (got {raw_type!r})")
        return None
    kind = ParamType(raw_type)
    _unknown_keys(table, _COMMON_KEYS | _TYPE_KEYS[kind], where, problems)
    description = table.get("description", name.replace("_", " ").capitalize())
    if not isinstance(description, str):
        problems.add(where, "description must be text")
        description = name
    required = table.get("required", kind in (ParamType.IMAGE, ParamType.MASK))
    if not isinstance(required, bool):
        problems.add(where, "required must be true or false")
        required = False
    low, high, step = _bounds(table, kind, where, problems)
    max_length = table.get("max_length")
    if max_length is not None and (
        isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1
    ):
        problems.add(where, "max_length must be a whole number of at least 1")
        max_length = None
    choices = _parse_choices(table["choices"], where, problems) if "choices" in table else ()
    targets = _parse_targets(graph, table, where, problems)
    param = Param(
        name, kind, description, targets, required=required, min=low, max=high, step=step,
        max_length=max_length, choices=choices,
    )  # fmt: skip
    for message in target_problems(graph, param, swapped):
        problems.add(where, message)
    return replace(param, default=_default(graph, param, table, where, problems))


def written_inputs(param: Param) -> list[tuple[str, str]]:
    """Every ``(node_id, input)`` the parameter may write."""
    pairs: list[tuple[str, str]] = []
    for target in param.targets:
        if target.input is not None:
            pairs.append((target.node_id, target.input))
        else:
            names = dict.fromkeys(name for c in param.choices for name, _ in c.inputs)
            pairs.extend((target.node_id, name) for name in names)
    return pairs


def overlap_problems(params: Sequence[Param], problems: Problems) -> None:
    """Two parameters writing the same input would make the result depend on their order."""
    owner: dict[tuple[str, str], str] = {}
    for param in params:
        for pair in dict.fromkeys(written_inputs(param)):
            if pair in owner:
                problems.add(
                    f"param '{param.name}'", f"input {pair[0]}.{pair[1]} is also set by param '{owner[pair]}'"
                )
            else:
                owner[pair] = param.name


@dataclass(frozen=True, slots=True)
class OutputsSpec:
    """``[outputs]``: the result nodes, whether they were named, the websocket swap and the Vary mode."""

    nodes: tuple[str, ...]
    websocket: bool = True
    declared: bool = False
    vary: VaryMode | None = None


def parse_outputs(graph: Graph, raw: object, problems: Problems) -> OutputsSpec:
    """``[outputs]``: the result nodes and whether they become SaveImageWebsocket."""
    table: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    if raw is not None and not isinstance(raw, Mapping):
        problems.add("[outputs]", "must be a table")
    _unknown_keys(table, _OUTPUT_KEYS, "[outputs]", problems)
    websocket = table.get("websocket", True)
    if not isinstance(websocket, bool):
        problems.add("[outputs]", "websocket must be true or false")
        websocket = True
    vary: VaryMode | None = None
    if "vary" in table:
        try:
            vary = VaryMode(table["vary"])
        except ValueError:
            modes = ", ".join(f'"{m.value}"' for m in VaryMode)
            problems.add("[outputs]", f"vary must be one of {modes} (got {table['vary']!r})")
    nodes = table.get("nodes")
    if nodes is None:
        outputs = infer_outputs(graph)
        if not outputs:
            problems.add(
                "[outputs]",
                "no output node found (SaveImage, SaveAnimatedWEBP, SaveVideo, SaveAudio, PreviewAny...); "
                'declare nodes = ["<id or title>"]',
            )
        _undeliverable_problem(graph, outputs, problems)
        return OutputsSpec(outputs, websocket, False, vary)
    items = nodes if isinstance(nodes, list) else [nodes]
    found: list[str] = []
    for item in items:
        if not isinstance(item, str):
            problems.add("[outputs]", f"nodes must be node ids or titles (got {item!r})")
            continue
        resolved = resolve_node(graph, item)
        if resolved.unique is None:
            _, error = resolve_target(graph, item)
            problems.add("[outputs]", f"node '{item}': {error}")
        else:
            found.append(resolved.unique)
    if not items:
        problems.add("[outputs]", "nodes is empty")
    outputs = tuple(dict.fromkeys(found))
    _undeliverable_problem(graph, outputs, problems)
    return OutputsSpec(outputs, websocket, True, vary)


def _undeliverable_problem(graph: Graph, outputs: tuple[str, ...], problems: Problems) -> None:
    """Refuse a template all of whose outputs write only what a chat cannot show (latents, models)."""
    useless = undeliverable(graph, outputs)
    if outputs and len(useless) == len(outputs):
        named = ", ".join(describe_node(graph, n) for n in useless)
        problems.add(
            "[outputs]",
            f"{named} writes nothing I can post (no image, animation, video, audio or text); "
            "add an output node that saves or previews one",
        )


def parse_actions(raw: object, problems: Problems) -> tuple[Action, ...]:
    """``[[actions]]``; the templates they name are checked once every template is loaded."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add("[[actions]]", "must be an array of tables ([[actions]])")
        return ()
    actions: list[Action] = []
    for index, item in enumerate(raw, start=1):
        where = f"action {index}"
        if not isinstance(item, Mapping):
            problems.add(where, "must be a table")
            continue
        _unknown_keys(item, _ACTION_KEYS, where, problems)
        label, template = item.get("label"), item.get("template")
        image_param, values = item.get("image_param", ""), item.get("values", {})
        ok = True
        if not isinstance(label, str) or not label.strip() or len(label) > 80:
            problems.add(where, "label must be 1-80 characters of text")
            ok = False
        if not isinstance(template, str) or not template:
            problems.add(where, 'template must name a command (e.g. template = "upscale")')
            ok = False
        if not isinstance(image_param, str):
            problems.add(where, "image_param must be a parameter name")
            ok = False
        if not isinstance(values, Mapping) or not all(_is_scalar(v) for v in values.values()):
            problems.add(where, "values must be a table of name = text/number/boolean")
            ok = False
        if (
            ok
            and isinstance(label, str)
            and isinstance(template, str)
            and isinstance(image_param, str)
            and isinstance(values, Mapping)
        ):
            actions.append(
                Action(label, template, image_param, tuple((str(k), v) for k, v in values.items()))
            )
    return tuple(actions)


def parse_manifest(
    graph: Graph, manifest: Mapping[str, Any], *, stem: str, source: str
) -> tuple[Template, Problems]:
    """A template from a manifest and its graph, with every problem found on the way."""
    problems = Problems()
    _unknown_keys(manifest, _TOP_KEYS, "manifest", problems)
    command = manifest.get("command", {})
    if not isinstance(command, Mapping):
        problems.add("[command]", "must be a table")
        command = {}
    _unknown_keys(command, _COMMAND_KEYS, "[command]", problems)
    name = command.get("name", sanitize_command_name(stem))
    description = command.get("description", default_description(stem))
    nsfw = command.get("nsfw", False)
    for key, value, kind in (("name", name, str), ("description", description, str), ("nsfw", nsfw, bool)):
        if not isinstance(value, kind):
            problems.add("[command]", f"{key} must be {'text' if kind is str else 'true or false'}")
    spec = parse_outputs(graph, manifest.get("outputs"), problems)
    outputs, websocket = spec.nodes, spec.websocket
    swapped = frozenset(
        node_id
        for node_id in outputs
        if websocket and str(graph[node_id].get("class_type")) in SWAPPABLE_OUTPUTS
    )
    raw_params = manifest.get("params", {})
    if not isinstance(raw_params, Mapping):
        problems.add("[params]", "must be a table of [params.<name>] tables")
        raw_params = {}
    params = [parse_param(graph, str(key), table, swapped, problems) for key, table in raw_params.items()]
    parsed = tuple(p for p in params if p is not None)
    overlap_problems(parsed, problems)
    template = Template(
        name=name if isinstance(name, str) else str(name),
        description=description if isinstance(description, str) else str(description),
        graph=graph,
        params=parsed,
        outputs=outputs,
        source=source,
        nsfw=nsfw if isinstance(nsfw, bool) else False,
        websocket_outputs=websocket,
        actions=parse_actions(manifest.get("actions"), problems),
        outputs_declared=spec.declared,
        vary=spec.vary,
    )
    if spec.vary not in (None, VaryMode.OFF) and batch_target(template) is None:
        problems.add(
            "[outputs]",
            'vary needs a parameter that sets a batch_size (e.g. target = "Empty Latent Image.batch_size")',
        )
    return template, problems
