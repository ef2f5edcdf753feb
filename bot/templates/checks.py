"""Checks of a parameter against the graph it fills in: targets, value types, defaults."""

from __future__ import annotations

from collections.abc import Mapping

from bot.errors import InvalidParameter
from bot.templates.coerce import coerce_value
from bot.templates.graph import class_of, describe_node, inputs_of, link_source
from bot.templates.model import Choice, Graph, Param, ParamType, Target, Value

_TYPE_WORDS = {
    ParamType.TEXT: "text",
    ParamType.INT: "a whole number",
    ParamType.FLOAT: "a number",
    ParamType.BOOL: "true/false",
    ParamType.SEED: "a whole number (seed)",
    ParamType.IMAGE: "a file name",
    ParamType.MASK: "a file name",
    ParamType.CHOICE: "a name",
}


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if link_source(value) is not None:
        return "a link"
    return f"a {type(value).__name__}"


def fits(existing: object, value: object) -> bool:
    """Whether ``value`` may replace ``existing`` (same JSON kind; ints and floats mix)."""
    if isinstance(existing, bool) or isinstance(value, bool):
        return isinstance(existing, bool) and isinstance(value, bool)
    if isinstance(existing, int | float):
        return isinstance(value, int | float)
    if isinstance(existing, str):
        return isinstance(value, str)
    return False


def param_fits(param: Param, existing: object) -> bool:
    """Whether the workflow's current value at a target has the kind ``param`` writes."""
    kind = param.type
    if kind in (ParamType.TEXT, ParamType.IMAGE, ParamType.MASK):
        return isinstance(existing, str)
    if kind is ParamType.BOOL:
        return isinstance(existing, bool)
    if isinstance(existing, bool):
        return False
    if kind in (ParamType.INT, ParamType.SEED):
        return isinstance(existing, int) or (isinstance(existing, float) and existing.is_integer())
    if kind is ParamType.FLOAT:
        return isinstance(existing, int | float)
    return param.from_backend and isinstance(existing, str)


def _input_problem(graph: Graph, node_id: str, name: str, swapped: bool) -> str | None:
    inputs = inputs_of(graph, node_id)
    where = describe_node(graph, node_id)
    if name not in inputs:
        have = ", ".join(sorted(inputs)) or "none"
        return f"{where} has no input '{name}' (its inputs: {have})"
    source = link_source(inputs[name])
    if source is not None:
        return (
            f"input '{name}' of {where} is connected to node {source}; a parameter can only set a "
            "value typed into the node, not a link"
        )
    if swapped and name != "images":
        return (
            f"input '{name}' of {where} disappears when websocket outputs replace "
            f"{class_of(graph, node_id)} with SaveImageWebsocket"
        )
    return None


def target_problems(graph: Graph, param: Param, swapped_nodes: frozenset[str] = frozenset()) -> list[str]:
    """Everything wrong with where ``param`` writes and what it writes there."""
    problems: list[str] = []
    seen: set[Target] = set()
    for target in param.targets:
        if target in seen:
            problems.append(f"target '{target}' is listed twice")
            continue
        seen.add(target)
        node_id = target.node_id
        if node_id not in graph:
            problems.append(f"target '{target}': node {node_id} does not exist")
            continue
        swapped = node_id in swapped_nodes
        tables = [c for c in param.choices if c.is_table]
        if target.input is None:
            if param.type is not ParamType.CHOICE or not tables:
                problems.append(
                    f"target '{target}' names a node but no input; write it as "
                    f"'{target}.<input>' (only choices whose options are tables may target a whole node)"
                )
                continue
            for choice in tables:
                for name, value in choice.inputs:
                    if problem := _input_problem(graph, node_id, name, swapped):
                        problems.append(f"choice '{choice.label}': {problem}")
                        continue
                    existing = inputs_of(graph, node_id)[name]
                    if not fits(existing, value):
                        problems.append(
                            f"choice '{choice.label}': sets {name} to {_kind(value)} but "
                            f"{describe_node(graph, node_id)} holds {_kind(existing)} there ({existing!r})"
                        )
            continue
        if problem := _input_problem(graph, node_id, target.input, swapped):
            problems.append(f"target '{target}': {problem}")
            continue
        existing = inputs_of(graph, node_id)[target.input]
        if tables:
            problems.append(
                f"target '{target}' names an input, but the choices are tables of inputs; "
                "target the whole node instead"
            )
        elif param.type is ParamType.CHOICE and param.choices:
            problems.extend(
                f"choice '{choice.label}' is {_kind(choice.value)} but target '{target}' "
                f"holds {_kind(existing)} ({existing!r})"
                for choice in param.choices
                if not fits(existing, choice.value)
            )
        elif not param_fits(param, existing):
            problems.append(
                f"type mismatch: a {param.type.value} parameter writes {_TYPE_WORDS[param.type]} but "
                f"target '{target}' holds {_kind(existing)} ({existing!r})"
            )
    return problems


def workflow_values(graph: Graph, param: Param) -> list[object]:
    """The workflow's current values at the parameter's input targets."""
    return [
        inputs_of(graph, t.node_id).get(t.input)
        for t in param.targets
        if t.input is not None and t.node_id in graph
    ]


def matching_choice(graph: Graph, param: Param) -> str | None:
    """The label of the choice that matches what the workflow holds now, if one does."""
    for choice in param.choices:
        if all(_holds(graph, target, choice) for target in param.targets):
            return choice.label
    return None


def _holds(graph: Graph, target: Target, choice: Choice) -> bool:
    if target.node_id not in graph:
        return False
    inputs = inputs_of(graph, target.node_id)
    wanted: Mapping[str, Value]
    if choice.is_table:
        wanted = choice.as_inputs()
    elif target.input is not None and choice.value is not None:
        wanted = {target.input: choice.value}
    else:
        return False
    return all(name in inputs and _same(inputs[name], value) for name, value in wanted.items())


def _same(a: object, b: object) -> bool:
    return fits(a, b) and a == b


def default_problem(param: Param, value: object, origin: str = "default") -> str | None:
    """Why ``value`` is not a valid default for ``param`` (None when it is)."""
    try:
        coerce_value(param, value)
    except InvalidParameter as error:
        message = error.user_message.removeprefix(f"`{param.name}`: ")
        return f"{origin} {value!r} is invalid: {message}"
    return None
