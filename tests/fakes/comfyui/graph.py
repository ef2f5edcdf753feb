"""Execution order (ComfyUI's ExecutionList with its "UX friendly" pick) and cache keys."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from typing import Any

from .nodes import NODES, Env
from .validation import is_link


class ExecutionList:
    """Pending nodes in discovery order; ready = not blocked by an unfinished, uncached upstream node."""

    def __init__(self, prompt: dict[str, Any], is_cached: Callable[[str], bool]) -> None:
        self.prompt = prompt
        self.is_cached = is_cached
        self.pending: dict[str, None] = {}
        self.block_count: dict[str, int] = {}
        self.blocking: dict[str, dict[str, set[Any]]] = {}

    def add_node(self, node_id: str) -> None:
        stack = [node_id]
        links: list[tuple[str, Any, str]] = []
        while stack:
            unique_id = stack.pop()
            if unique_id in self.pending:
                continue
            self.pending[unique_id] = None
            self.block_count[unique_id] = 0
            self.blocking[unique_id] = {}
            for value in self.prompt[unique_id]["inputs"].values():
                if is_link(value) and not self.is_cached(value[0]):
                    stack.append(value[0])
                    links.append((value[0], value[1], unique_id))
        for source, socket, target in links:
            if target not in self.blocking[source]:
                self.blocking[source][target] = set()
                self.block_count[target] += 1
            self.blocking[source][target].add(socket)

    def is_empty(self) -> bool:
        return not self.pending

    def _is_output(self, node_id: str) -> bool:
        return NODES[self.prompt[node_id]["class_type"]].output_node

    def next_node(self) -> str | None:
        """The node to run next, or None when what is left is blocked (a dependency cycle)."""
        ready = [node_id for node_id in self.pending if self.block_count[node_id] == 0]
        if not ready:
            return None
        # Output nodes first, then nodes feeding an output, then nodes two steps away from one.
        for node_id in ready:
            if self._is_output(node_id):
                return node_id
        for node_id in ready:
            if any(self._is_output(blocked) for blocked in self.blocking[node_id]):
                return node_id
        for node_id in ready:
            for blocked in self.blocking[node_id]:
                if any(self._is_output(second) for second in self.blocking.get(blocked, {})):
                    return node_id
        return ready[0]

    def complete(self, node_id: str) -> None:
        del self.pending[node_id]
        for blocked in self.blocking.pop(node_id):
            self.block_count[blocked] -= 1

    def cycle(self) -> list[str]:
        return list(self.pending)


def _freeze(value: Any) -> Hashable:
    if isinstance(value, Hashable) and not isinstance(value, tuple):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def signatures(env: Env, prompt: dict[str, Any], is_changed: Callable[[str], Any]) -> dict[str, Hashable]:
    """Cache key of every node: class, IS_CHANGED, literal inputs and the keys of linked ancestors."""
    keys: dict[str, Hashable] = {}

    def key(node_id: str, trail: frozenset[str]) -> Hashable:
        if node_id in keys:
            return keys[node_id]
        if node_id not in prompt or node_id in trail:
            return float("nan")
        node = prompt[node_id]
        parts: list[Hashable] = [node["class_type"], _freeze(is_changed(node_id))]
        nodedef = NODES[node["class_type"]]
        if "UNIQUE_ID" in nodedef.hidden.values():
            parts.append(node_id)
        for name in sorted(node["inputs"]):
            value = node["inputs"][name]
            if is_link(value) and len(value) == 2:
                parts.append((name, ("ANCESTOR", key(value[0], trail | {node_id}), _freeze(value[1]))))
            else:
                parts.append((name, _freeze(value)))
        keys[node_id] = result = tuple(parts)
        return result

    for node_id in prompt:
        key(node_id, frozenset())
    return keys
