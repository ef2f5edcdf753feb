"""Reading API-format graphs: shape checks, links, titles, and resolving node references."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bot.templates.model import Graph, Target


def link_source(value: object) -> str | None:
    """The source node id if ``value`` is a link ``[node_id, output_index]``, else None."""
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str | int)
        and not isinstance(value[0], bool)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    ):
        return str(value[0])
    return None


def inputs_of(graph: Graph, node_id: str) -> Mapping[str, Any]:
    inputs = graph[node_id].get("inputs", {})
    return inputs if isinstance(inputs, Mapping) else {}


def class_of(graph: Graph, node_id: str) -> str:
    return str(graph[node_id].get("class_type", ""))


def title_of(graph: Graph, node_id: str) -> str | None:
    meta = graph[node_id].get("_meta")
    if isinstance(meta, Mapping):
        title = meta.get("title")
        if isinstance(title, str) and title:
            return title
    return None


def links(graph: Graph) -> Iterator[tuple[str, str, str]]:
    """Every link as ``(node_id, input_name, source_node_id)``."""
    for node_id in graph:
        for name, value in inputs_of(graph, node_id).items():
            source = link_source(value)
            if source is not None:
                yield node_id, name, source


def looks_like_ui_export(data: object) -> bool:
    return isinstance(data, Mapping) and ("nodes" in data or "links" in data) and "class_type" not in data


def shape_problems(data: object) -> list[str]:
    """Why ``data`` is not an API-format graph (empty when it is one)."""
    if looks_like_ui_export(data):
        return [
            "this is a UI-format export (it has 'nodes'/'links'); in ComfyUI use "
            "'Save (API format)' (Workflow menu > Export (API); older versions need "
            "'Enable Dev mode Options' in the settings) and drop that file here instead"
        ]
    if not isinstance(data, Mapping):
        return ["the workflow must be a JSON object of nodes (an API-format export)"]
    request_keys = {"prompt", "client_id", "extra_data", "prompt_id"}
    if set(data) <= request_keys and isinstance(data.get("prompt"), Mapping):
        return ['this is a /prompt request body; save only its "prompt" value (the graph) as the workflow']
    if not data:
        return ["the workflow has no nodes"]
    problems: list[str] = []
    for node_id, node in data.items():
        if not isinstance(node, Mapping):
            problems.append(f"node {node_id}: is not an object")
            continue
        class_type = node.get("class_type")
        if not isinstance(class_type, str) or not class_type:
            problems.append(f"node {node_id}: has no class_type (is this an API-format export?)")
        inputs = node.get("inputs", {})
        if not isinstance(inputs, Mapping):
            problems.append(f"node {node_id}: 'inputs' is not an object")
            continue
        for name, value in inputs.items():
            source = link_source(value)
            if source is None:
                continue
            if source not in data:
                problems.append(
                    f"node {node_id}: input '{name}' links to node {source}, which does not exist"
                )
            elif value[1] < 0:
                problems.append(
                    f"node {node_id}: input '{name}' links to output {value[1]} of node {source}; "
                    "output numbers start at 0"
                )
    if not problems:
        problems.extend(cycle_problems(data))
    return problems


def _feeds(graph: Mapping[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """For each node, the ``(node, input)`` pairs it feeds (only links to nodes that exist)."""
    feeds: dict[str, list[tuple[str, str]]] = {node_id: [] for node_id in graph}
    for node_id, name, source in links(graph):
        if source in feeds:
            feeds[source].append((node_id, name))
    return feeds


def _components(feeds: Mapping[str, list[tuple[str, str]]]) -> list[list[str]]:
    """Strongly connected components (Tarjan's algorithm, iterative: a long chain must not recurse)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in feeds:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            targets = feeds[node]
            if position < len(targets):
                work.append((node, position + 1))
                target = targets[position][0]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                found.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def _loop_through(start: str, members: set[str], feeds: Mapping[str, list[tuple[str, str]]]) -> list[str]:
    """One loop from ``start`` back to itself inside a strongly connected component (breadth first)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for target, _ in feeds[node]:
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, node, start]
                if target in members and target not in previous:
                    previous[target] = node
                    following.append(target)
        frontier = following
    return [start, start]  # pragma: no cover - a component always has a loop through each member


def cycle_problems(graph: Mapping[str, Any]) -> list[str]:
    """Loops in the graph, each named by its nodes: ComfyUI refuses them with no reason given."""
    feeds = _feeds(graph)
    problems = [
        f"node {node_id}: input '{name}' links to the node itself; a workflow must flow one way"
        for node_id, inputs in feeds.items()
        for target, name in inputs
        if target == node_id
    ]
    for component in _components(feeds):
        if len(component) < 2:
            continue
        members = set(component)
        ordered = sorted(component, key=lambda n: (len(n), n))
        loop = _loop_through(ordered[0], members, feeds)
        problems.append(
            f"nodes {_some(ordered)} form a cycle ({_some(loop, ' -> ', total=len(loop) - 1)}, "
            "each feeding the next); "
            "a workflow must flow one way"
        )
    return problems


def _some(items: list[str], separator: str = ", ", *, total: int | None = None, shown: int = 12) -> str:
    """The items joined, cut short (with how many nodes in all) when there are many."""
    if len(items) <= shown:
        return separator.join(items)
    return separator.join(items[: shown - 1]) + f"{separator}... ({total or len(items)} nodes in all)"


@dataclass(frozen=True, slots=True)
class Resolved:
    """The outcome of resolving a node reference: node ids found, or an explanation."""

    node_ids: tuple[str, ...]
    how: str = ""  # "id", "title" or "class"

    @property
    def unique(self) -> str | None:
        return self.node_ids[0] if len(self.node_ids) == 1 else None


def resolve_node(graph: Graph, ref: str) -> Resolved:
    """Find a node by id, else by ``_meta.title``, else by class_type (each must be unique to be used)."""
    if ref in graph:
        return Resolved((ref,), "id")
    by_title = tuple(node_id for node_id in graph if title_of(graph, node_id) == ref)
    if by_title:
        return Resolved(by_title, "title")
    by_class = tuple(node_id for node_id in graph if class_of(graph, node_id) == ref)
    if by_class:
        return Resolved(by_class, "class")
    return Resolved(())


def describe_node(graph: Graph, node_id: str) -> str:
    title = title_of(graph, node_id)
    class_type = class_of(graph, node_id)
    if title and title != class_type:
        return f"node {node_id} ('{title}', {class_type})"
    return f"node {node_id} ({class_type})"


def _unresolved_message(graph: Graph, ref: str, found: Resolved) -> str:
    if len(found.node_ids) > 1:
        kind = "title" if found.how == "title" else "class_type"
        ids = ", ".join(found.node_ids)
        return (
            f"{kind} '{ref}' is ambiguous: it matches nodes {ids}; "
            "use a node id or give the nodes distinct titles"
        )
    titles = sorted({t for t in (title_of(graph, n) for n in graph) if t})
    hint = f" (titles in this workflow: {', '.join(repr(t) for t in titles[:12])})" if titles else ""
    return f"no node has the id or title '{ref}'{hint}"


def resolve_target(graph: Graph, spec: str) -> tuple[Target | None, str]:
    """Resolve ``"6.text"``, ``"Positive Prompt.text"`` or a bare node reference.

    ``"node.input"`` is tried first (split at the last dot, so titles may contain dots), then the whole
    string as a node reference. Returns the target or an error message.
    """
    split_error = ""
    if "." in spec:
        ref, input_name = spec.rsplit(".", 1)
        found = resolve_node(graph, ref)
        node_id = found.unique
        if node_id is not None:
            if input_name in inputs_of(graph, node_id):
                return Target(node_id, input_name), ""
            have = ", ".join(sorted(inputs_of(graph, node_id))) or "none"
            split_error = f"{describe_node(graph, node_id)} has no input '{input_name}' (its inputs: {have})"
        elif found.node_ids:
            split_error = _unresolved_message(graph, ref, found)
    whole = resolve_node(graph, spec)
    if whole.unique is not None:
        return Target(whole.unique), ""
    if whole.node_ids:
        return None, _unresolved_message(graph, spec, whole)
    if split_error:
        return None, split_error
    ref = spec.rsplit(".", 1)[0] if "." in spec else spec
    return None, _unresolved_message(graph, ref, Resolved(()))
