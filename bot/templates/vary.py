"""Vary: make image N of a batch again, on its own, so a member can pick one image and build on it.

ComfyUI draws a batch from one seed: image N is not "seed N". Samplers that honour a latent's
``batch_index`` (KSampler & co.) give each entry its own starting noise by its index, so taking the
batch's latent through ``LatentFromBatch(batch_index=N, length=1)`` re-makes image N (with the same
seed and settings) at the cost of one image: exactly with deterministic samplers, closely with
ancestral and SDE ones, which draw more noise for the whole batch at each step. Workflows whose batch
images each use their own seed (``vary = "seed_offset"`` in the manifest) re-run with seed + N
instead. See ``outputs.vary_mode``.

A Vary job stores its choice in its params under ``PICK_KEY``, a name no template parameter can have
(Discord option names cannot contain ``@``), so re-rolls and edits of it keep the picked image.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from bot.errors import InvalidInput, InvalidParameter
from bot.templates.graph import link_source
from bot.templates.model import SEED_MAX, ParamType, Template, Value, VaryMode
from bot.templates.outputs import batch_target, vary_mode

PICK_KEY: Final = "@pick"
MAX_PICK: Final = 63
"""LatentFromBatch's largest ``batch_index``."""


def split_pick(values: Mapping[str, Any]) -> tuple[dict[str, Any], int | None]:
    """``values`` without the Vary pick, and the pick (None when the job is not a Vary)."""
    rest = {k: v for k, v in values.items() if k != PICK_KEY}
    pick = values.get(PICK_KEY)
    if pick is None:
        return rest, None
    if not isinstance(pick, int) or isinstance(pick, bool) or not 0 <= pick <= MAX_PICK:
        raise InvalidParameter(PICK_KEY, f"must be a batch position from 0 to {MAX_PICK}")
    return rest, pick


def vary_values(template: Template, params: Mapping[str, Value], index: int) -> dict[str, Value]:
    """The values of a job that re-makes image ``index`` (0-based) of the batch ``params`` made."""
    mode = vary_mode(template)
    found = batch_target(template)
    if mode is VaryMode.OFF or found is None:
        raise InvalidInput(f"/{template.name} cannot make one image of a batch again; use Re-roll instead.")
    batch_param, _ = found
    values, earlier = split_pick(params)
    values[batch_param] = 1
    if mode is VaryMode.NOISE_INDEX:
        pick = (earlier or 0) + index
        if pick > MAX_PICK:
            raise InvalidInput(f"Vary works on the first {MAX_PICK + 1} images of a batch.")
        values[PICK_KEY] = pick
        return values
    for param in template.params:
        seed = values.get(param.name)
        if param.type is ParamType.SEED and isinstance(seed, int):
            values[param.name] = (seed + index) % (SEED_MAX + 1)
    return values


def apply_pick(graph: dict[str, Any], template: Template, pick: int) -> None:
    """Make the batch's latent yield only entry ``pick`` (with its own noise), in place."""
    found = batch_target(template)
    if found is None:
        raise InvalidParameter(PICK_KEY, f"/{template.name} has no batch to pick from")
    _, latent = found
    graph[latent]["inputs"]["batch_size"] = pick + 1
    numeric = [int(n) for n in graph if str(n).isdigit()]
    node_id = str(max(numeric, default=0) + 1)
    while node_id in graph:
        node_id += "0"
    for node in graph.values():
        inputs = node.get("inputs", {})
        for name, value in inputs.items():
            if link_source(value) == latent and value[1] == 0:
                inputs[name] = [node_id, 0]
    graph[node_id] = {
        "class_type": "LatentFromBatch",
        "inputs": {"samples": [latent, 0], "batch_index": pick, "length": 1},
        "_meta": {"title": f"comfycord: image {pick + 1} of the batch"},
    }
