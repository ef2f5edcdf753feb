"""How far a run is, weighted by what takes the time.

Counting nodes misleads: a text-to-image graph has six quick nodes and one sampler that takes nearly all
the time, so a node count reads 40% at step 4 of 20 and never passes two thirds before the result
appears. Here the nodes that report steps (samplers, and any node that sends ``progress``) share 90% of
the bar in proportion to their steps, and the other nodes share the rest. Cached nodes count as done
from the start. A node found to report steps only once it runs (an upscaler's tiles) changes the
weights, so the fraction is clamped to never go down: a bar that jumps back reads as a restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.comfy.events import OverallProgress

STEPPED_SHARE = 0.9
"""The share of the bar for nodes that report steps, when the graph has any."""


def _literal_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _steps_of(node: Mapping[str, Any]) -> int | None:
    inputs = node.get("inputs")
    if not isinstance(inputs, Mapping):
        return None
    steps = _literal_int(inputs.get("steps"))
    if steps is None:
        return None
    start = inputs.get("start_at_step")
    end = inputs.get("end_at_step")
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end:
        return max(1, min(steps, end) - start)  # KSamplerAdvanced runs only part of the schedule
    return steps


def expected_steps(graph: Mapping[str, Any]) -> dict[str, int]:
    """The samplers of ``graph`` and how many steps each will report, as far as the graph tells.

    A sampler with a literal ``steps`` input (KSampler, KSamplerAdvanced) counts its own; a custom
    sampler counts those of the scheduler linked to its ``sigmas`` input (BasicScheduler and friends),
    which itself reports nothing.
    """
    found: dict[str, int] = {}
    for node_id, node in graph.items():
        if not isinstance(node, Mapping) or "Sampler" not in str(node.get("class_type", "")):
            continue
        steps = _steps_of(node)
        inputs = node.get("inputs")
        if steps is None and isinstance(inputs, Mapping):
            link = inputs.get("sigmas")
            if isinstance(link, list) and link and isinstance(graph.get(str(link[0])), Mapping):
                steps = _steps_of(graph[str(link[0])])
        if steps is not None:
            found[str(node_id)] = steps
    return found


class ProgressModel:
    """Tracks one run's nodes and steps; ``snapshot()`` is the fraction to show."""

    def __init__(self, nodes: Iterable[str], steps: Mapping[str, int]) -> None:
        self._nodes = list(dict.fromkeys(nodes))
        self._steps = {node: total for node, total in steps.items() if node in self._nodes}
        self._step_done: dict[str, int] = {}
        self._done: set[str] = set()
        self._current: str | None = None
        self._shown = 0.0

    def cached(self, nodes: Iterable[str]) -> None:
        """ComfyUI reuses these nodes' earlier results: they are done before the run starts."""
        for node in nodes:
            self._finish(node)

    def started(self, node: str) -> None:
        """``node`` begins executing; the node before it is done."""
        if self._current is not None and self._current != node:
            self._finish(self._current)
        self._current = node

    def stepped(self, node: str, value: int, maximum: int) -> None:
        """``node`` reported step ``value`` of ``maximum``."""
        if maximum <= 0:
            return
        self._steps[node] = maximum
        self._step_done[node] = max(self._step_done.get(node, 0), min(value, maximum))

    def _finish(self, node: str) -> None:
        self._done.add(node)
        if node in self._steps:
            self._step_done[node] = self._steps[node]

    def snapshot(self) -> OverallProgress:
        plain = [n for n in self._nodes if n not in self._steps]
        plain_share = sum(1 for n in plain if n in self._done) / len(plain) if plain else 1.0
        steps_total = sum(self._steps.values())
        if steps_total:
            steps_share = sum(self._step_done.get(n, 0) for n in self._steps) / steps_total
            fraction = (1 - STEPPED_SHARE) * plain_share + STEPPED_SHARE * steps_share
        else:
            fraction = plain_share
        self._shown = max(self._shown, min(1.0, fraction))
        return OverallProgress(self._shown, len(self._done), len(self._nodes))
