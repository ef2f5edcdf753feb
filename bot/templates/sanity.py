"""Limits on what a parsed workflow or manifest may contain before anything walks it.

A parser that survived deep nesting still hands over a structure that ``copy.deepcopy`` or
``json.dumps`` will recurse through later (at job time, far from the file); a NaN from a manifest or a
huge number in a graph would reach ComfyUI as text it rejects without a reason. Both are refused at
load, with where they are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

MAX_DEPTH: Final = 32
"""An API-format graph is 4 levels deep (graph, node, inputs, a link); manifests are about as shallow."""


def _where(path: str) -> str:
    return f" (at {path})" if path else ""


def structure_problem(data: object) -> str | None:
    """Why ``data`` (parsed JSON or TOML) is unusable: nested too deeply, or a non-finite number."""
    stack: list[tuple[object, int, str]] = [(data, 1, "")]
    while stack:
        value, depth, path = stack.pop()
        if depth > MAX_DEPTH:
            return f"it is nested more than {MAX_DEPTH} levels deep{_where(path)}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"{path or 'a value'} is {value}; only finite numbers are allowed"
        if isinstance(value, Mapping):
            stack.extend(
                (item, depth + 1, f"{path}.{key}" if path else str(key)) for key, item in value.items()
            )
        elif isinstance(value, list):
            stack.extend((item, depth + 1, f"{path}[{index}]") for index, item in enumerate(value))
    return None
