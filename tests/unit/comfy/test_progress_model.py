"""The overall fraction moves with what takes the time, never goes back, and ends near 100%."""

from __future__ import annotations

import json
from pathlib import Path

from bot.comfy.progress_model import ProgressModel, expected_steps

ROOT = Path(__file__).resolve().parents[3]
IMAGINE = json.loads((ROOT / "workflows" / "imagine.json").read_text())
CUSTOM = json.loads((ROOT / "tests" / "data" / "workflows" / "flux_basic_guider.json").read_text())


def sampler_of(graph: dict) -> str:
    return next(n for n, node in graph.items() if node["class_type"] == "KSampler")


def run_to_step(graph: dict, step: int, total: int = 20) -> float:
    """Plays the order ComfyUI runs the text-to-image graph in, up to sampler step ``step``."""
    graph = json.loads(json.dumps(graph))
    sampler = sampler_of(graph)
    graph[sampler]["inputs"]["steps"] = total
    model = ProgressModel(graph, expected_steps(graph))
    before = [
        n
        for n in graph
        if n != sampler
        and graph[n]["class_type"] in ("CheckpointLoaderSimple", "CLIPTextEncode", "EmptyLatentImage")
    ]
    for node in before:
        model.started(node)
    model.started(sampler)
    model.stepped(sampler, step, total)
    return model.snapshot().fraction


def test_a_twenty_step_job_moves_with_its_steps() -> None:
    fractions = [run_to_step(IMAGINE, step) for step in range(21)]
    assert fractions == sorted(fractions)
    assert 0.15 <= fractions[4] <= 0.30  # a node count said 40% here
    assert fractions[19] >= 0.85  # and 65% here
    assert abs((fractions[10] - fractions[9]) - (fractions[15] - fractions[14])) < 1e-9  # even steps


def test_the_end_is_near_the_whole_bar() -> None:
    graph = json.loads(json.dumps(IMAGINE))
    model = ProgressModel(graph, expected_steps(graph))
    for node in graph:  # every node runs in turn
        model.started(node)
        if node in expected_steps(graph):
            model.stepped(node, expected_steps(graph)[node], expected_steps(graph)[node])
    assert model.snapshot().fraction >= 0.95
    assert model.snapshot().nodes_done == len(graph) - 1


def test_cached_nodes_count_as_done_from_the_start() -> None:
    graph = json.loads(json.dumps(IMAGINE))
    sampler = sampler_of(graph)
    cached = [n for n in graph if n != sampler and graph[n]["class_type"] != "VAEDecode"]
    model = ProgressModel(graph, expected_steps(graph))
    model.cached(cached)
    assert model.snapshot().nodes_done == len(cached)
    assert 0 < model.snapshot().fraction < 0.1


def test_a_node_that_reveals_its_steps_late_never_moves_the_bar_back() -> None:
    graph = {
        "1": {"class_type": "LoadImage", "inputs": {}},
        "2": {"class_type": "UpscaleWithModel", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["2", 0]}},
    }
    model = ProgressModel(graph, expected_steps(graph))
    model.started("1")
    model.started("2")
    before = model.snapshot().fraction
    model.stepped("2", 1, 64)  # 64 tiles: the upscaler now weighs 90% of the bar
    assert model.snapshot().fraction >= before
    model.stepped("2", 64, 64)
    assert model.snapshot().fraction > before


def test_custom_samplers_take_their_steps_from_the_scheduler() -> None:
    steps = expected_steps(CUSTOM)
    schedulers = {
        n: node["inputs"]["steps"] for n, node in CUSTOM.items() if "steps" in node.get("inputs", {})
    }
    assert list(steps.values()) == list(schedulers.values())
    sampler = next(iter(steps))
    assert CUSTOM[sampler]["class_type"] == "SamplerCustomAdvanced"


def test_ksampler_advanced_counts_only_the_steps_it_runs() -> None:
    graph = {
        "1": {
            "class_type": "KSamplerAdvanced",
            "inputs": {"steps": 30, "start_at_step": 20, "end_at_step": 10000},
        },
        "2": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
    }
    assert expected_steps(graph) == {"1": 10}
