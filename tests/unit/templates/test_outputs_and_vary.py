"""Output nodes of every kind (inferred or declared, refused when nothing is postable) and Vary."""

from __future__ import annotations

import random
from typing import Any

import pytest

from bot.errors import InvalidInput, InvalidParameter
from bot.jobs.template_planner import TemplatePlanner
from bot.templates import Template, TemplateSet, load_templates, preflight, render
from bot.templates.model import VaryMode
from bot.templates.outputs import describe_outputs, vary_mode
from bot.templates.vary import PICK_KEY, vary_values

from .conftest import BUNDLED, build, messages, problems_of


def _latent(batch: int = 1) -> dict[str, Any]:
    return {
        "1": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": batch}},
        "2": {
            "class_type": "SlowSteps",
            "inputs": {"samples": ["1", 0], "steps": 2, "delay": 0.0, "seed": 5, "send_previews": False},
        },
    }


def _animated() -> dict[str, Any]:
    return {
        **_latent(4),
        "3": {
            "class_type": "SaveAnimatedWEBP",
            "inputs": {"images": ["2", 1], "filename_prefix": "x", "fps": 6.0, "lossless": False,
                       "quality": 80, "method": "default"},
            "_meta": {"title": "Save Animation"},
        },
        "4": {"class_type": "GetImageSize", "inputs": {"image": ["2", 1]}},
        "5": {"class_type": "PreviewAny", "inputs": {"source": ["4", 0]}},
    }  # fmt: skip


def test_animated_video_and_text_nodes_are_inferred_as_outputs() -> None:
    template = build("anim", _animated())
    assert template.outputs == ("3", "5")
    assert not template.outputs_declared
    described = describe_outputs(template)
    assert "animation (node 3 ('Save Animation', SaveAnimatedWEBP))" in described
    assert "text (node 5 (PreviewAny))" in described


def test_a_custom_output_node_at_the_end_of_the_graph_is_taken_as_the_output() -> None:
    graph = {**_latent(), "9": {"class_type": "Fancy Save (custom)", "inputs": {"images": ["2", 1]}}}
    template = build("custom", graph)
    assert template.outputs == ("9",)
    assert describe_outputs(template) == "files/text by type (node 9 (Fancy Save (custom)))"


def test_a_guessed_output_that_the_backend_says_is_no_output_node_is_reported() -> None:
    graph = {**_latent(), "9": {"class_type": "Fancy Save (custom)", "inputs": {"images": ["2", 1]}}}
    template = build("custom", graph)
    info = {
        "EmptyLatentImage": {"input": {"required": {}}, "output_node": False},
        "SlowSteps": {"input": {"required": {}}, "output_node": False},
        "Fancy Save (custom)": {"input": {"required": {"images": ["IMAGE"]}}, "output_node": False},
    }
    reasons = preflight(template, info).reasons
    assert any("no output node" in r for r in reasons)
    info["Fancy Save (custom)"]["output_node"] = True
    assert not any("output" in r for r in preflight(template, info).reasons)


def test_a_template_whose_outputs_post_nothing_is_refused_with_the_reason() -> None:
    graph = {
        **_latent(),
        "3": {"class_type": "SaveLatent", "inputs": {"samples": ["2", 0], "filename_prefix": "l"}},
    }
    found = messages(problems_of("latents", graph))
    assert any("node 3 (SaveLatent) writes nothing I can post" in m for m in found), found


def test_one_postable_output_beside_a_latent_save_is_enough() -> None:
    graph = {
        **_latent(),
        "3": {"class_type": "SaveLatent", "inputs": {"samples": ["2", 0], "filename_prefix": "l"}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["2", 1], "filename_prefix": "i"}},
    }
    template = build("mixed", graph, '[outputs]\nnodes = ["3", "4"]\nwebsocket = false\n')
    assert template.outputs == ("3", "4")
    assert template.outputs_declared


def test_vary_must_name_a_known_mode() -> None:
    found = messages(problems_of("anim", _animated(), '[outputs]\nvary = "sometimes"\n'))
    assert any('vary must be one of "noise_index", "seed_offset", "off"' in m for m in found), found


def test_vary_needs_a_batch_parameter() -> None:
    found = messages(problems_of("anim", _animated(), '[outputs]\nvary = "seed_offset"\n'))
    assert any("vary needs a parameter that sets a batch_size" in m for m in found), found


@pytest.fixture(scope="module")
def imagine() -> Template:
    return {t.name: t for t in load_templates(BUNDLED)}["imagine"]


def test_a_ksampler_batch_varies_by_noise_index(imagine: Template) -> None:
    assert vary_mode(imagine) is VaryMode.NOISE_INDEX
    params = {"prompt": "ducks", "batch": 4, "seed": 77, "steps": 20}
    values = vary_values(imagine, params, 2)
    assert values == {"prompt": "ducks", "batch": 1, "seed": 77, "steps": 20, PICK_KEY: 2}


def test_the_picked_image_is_taken_from_the_batch_with_its_own_noise(imagine: Template) -> None:
    rendered = render(imagine, {"prompt": "ducks", "batch": 1, "seed": 77, PICK_KEY: 2}, rng=random.Random(0))
    graph = rendered.graph
    picker = [n for n, node in graph.items() if node["class_type"] == "LatentFromBatch"]
    assert len(picker) == 1
    [node_id] = picker
    assert graph[node_id]["inputs"] == {"samples": ["5", 0], "batch_index": 2, "length": 1}
    assert graph["5"]["inputs"]["batch_size"] == 3  # entries 0..2 exist, only entry 2 is sampled
    assert graph["3"]["inputs"]["latent_image"] == [node_id, 0]
    assert graph["3"]["inputs"]["seed"] == 77


def test_varying_a_varied_image_keeps_its_place_in_the_first_batch(imagine: Template) -> None:
    once = vary_values(imagine, {"prompt": "x", "batch": 4, "seed": 1}, 3)
    again = vary_values(imagine, once, 0)
    assert again[PICK_KEY] == 3


def test_seed_offset_vary_adds_the_image_number_to_the_seed(imagine: Template) -> None:
    from dataclasses import replace

    offset = replace(imagine, vary=VaryMode.SEED_OFFSET)
    values = vary_values(offset, {"prompt": "x", "batch": 4, "seed": 2**64 - 1}, 2)
    assert values["seed"] == 1  # wraps within ComfyUI's seed range
    assert values["batch"] == 1
    assert PICK_KEY not in values


def test_vary_is_refused_where_there_is_no_batch() -> None:
    invert = {t.name: t for t in load_templates(BUNDLED)}["invert"]
    with pytest.raises(InvalidInput, match="use Re-roll instead"):
        vary_values(invert, {}, 1)


def test_the_planner_keeps_a_valid_pick_and_refuses_a_bad_one(imagine: Template) -> None:
    planner = TemplatePlanner(TemplateSet({"imagine": imagine}))
    kept = planner.validate("imagine", {"prompt": "x", "batch": 1, "seed": 3, PICK_KEY: 1}, random.Random(0))
    assert kept[PICK_KEY] == 1
    plan = planner.plan("imagine", kept, {})
    assert any(node["class_type"] == "LatentFromBatch" for node in plan.graph.values())
    for bad in (-1, 64, "2", True):
        with pytest.raises(InvalidParameter):
            planner.validate("imagine", {"prompt": "x", PICK_KEY: bad}, random.Random(0))
