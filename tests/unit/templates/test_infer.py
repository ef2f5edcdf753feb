"""Inference without a manifest, over the graph shapes people actually export."""

from __future__ import annotations

import random

import pytest

from bot.templates import ParamType, Target, infer_params, render
from bot.templates.infer import prompt_targets

from .conftest import build, graph, graph_text


def _by_name(name: str) -> dict[str, object]:
    return {p.name: p for p in infer_params(graph(name))}


def _targets(name: str, param: str) -> list[str]:
    template = build(name, graph_text(name))
    return [str(t) for t in template.param(param).targets]


def test_sd15_default_graph_gets_the_usual_parameters() -> None:
    template = build("sd15_default", graph_text("sd15_default"))
    assert template.name == "sd15_default"
    assert template.inferred
    assert [p.name for p in template.options] == [
        "prompt", "negative", "checkpoint", "width", "height", "batch_size",
        "steps", "cfg", "sampler", "scheduler", "seed",
    ]  # fmt: skip
    prompt = template.param("prompt")
    assert prompt.required
    assert prompt.targets == (Target("6", "text"),)
    assert template.param("negative").targets == (Target("7", "text"),)
    assert template.param("negative").default == "bad hands"
    assert template.param("seed").type is ParamType.SEED
    assert template.param("seed").targets == (Target("3", "seed"),)
    assert template.param("steps").default == 20
    assert template.param("cfg").default == 8.0
    assert template.param("cfg").type is ParamType.FLOAT
    assert template.param("width").step == 8
    checkpoint = template.param("checkpoint")
    assert checkpoint.from_backend
    assert checkpoint.default == "v1-5-pruned-emaonly.safetensors"
    assert template.outputs == ("9",)
    assert not template.has_param("denoise")  # text-to-image: denoise < 1 would only spoil it


def test_sdxl_base_and_refiner_prompts_reach_both_encoders_and_steps_are_left_alone() -> None:
    assert _targets("sdxl_base_refiner", "prompt") == ["6.text", "15.text"]
    assert _targets("sdxl_base_refiner", "negative") == ["7.text", "16.text"]
    assert _targets("sdxl_base_refiner", "seed") == ["10.noise_seed", "11.noise_seed"]
    params = _by_name("sdxl_base_refiner")
    assert "steps" not in params  # base ends at step 20 of 25: changing steps would break the split
    assert {"checkpoint", "checkpoint_2"} <= params.keys()
    assert _targets("sdxl_base_refiner", "sampler") == ["10.sampler_name", "11.sampler_name"]


def test_flux_basic_guider_through_flux_guidance() -> None:
    positive, negative = prompt_targets(graph("flux_basic_guider"))
    assert positive == (Target("6", "text"),)
    assert negative == ()
    params = _by_name("flux_basic_guider")
    assert "negative" not in params
    assert "cfg" not in params
    assert _targets("flux_basic_guider", "seed") == ["25.noise_seed"]
    assert _targets("flux_basic_guider", "steps") == ["17.steps"]
    assert _targets("flux_basic_guider", "model") == ["12.unet_name"]
    assert _targets("flux_basic_guider", "width") == ["27.width"]  # not ModelSamplingFlux's width
    assert _targets("flux_basic_guider", "guidance") == ["26.guidance"]
    assert _targets("flux_basic_guider", "sampler") == ["16.sampler_name"]
    assert _targets("flux_basic_guider", "scheduler") == ["17.scheduler"]


def test_flux_cfg_guider_follows_positive_and_negative_through_conditioning_nodes() -> None:
    assert _targets("flux_cfg_guider", "prompt") == ["6.text", "32.clip_l", "32.t5xxl"]
    assert _targets("flux_cfg_guider", "negative") == ["7.text"]
    assert _targets("flux_cfg_guider", "cfg") == ["22.cfg"]
    template = build("flux_cfg_guider", graph_text("flux_cfg_guider"))
    guidance = template.param("guidance")
    assert guidance.default is None  # the two targets disagree: left as exported unless given
    rendered = render(template, {"prompt": "x"}, rng=random.Random(0))
    assert rendered.graph["26"]["inputs"]["guidance"] == 2.0
    assert rendered.graph["32"]["inputs"]["guidance"] == 3.5
    assert rendered.output_nodes == frozenset({"9"})
    assert rendered.graph["9"]["class_type"] == "SaveImageWebsocket"


def test_conditioning_zero_out_negative_is_not_a_prompt() -> None:
    g = graph("flux_cfg_guider")
    g["40"] = {"class_type": "ConditioningZeroOut", "inputs": {"conditioning": ["6", 0]}}
    g["22"]["inputs"]["negative"] = ["40", 0]
    positive, negative = prompt_targets(g)
    assert Target("6", "text") in positive
    assert negative == ()


def test_img2img_gets_an_image_and_denoise() -> None:
    template = build("img2img", graph_text("img2img"))
    image = template.param("image")
    assert image.type is ParamType.IMAGE
    assert image.required
    assert image.targets == (Target("1", "image"),)
    assert template.param("denoise").default == 0.55
    assert (template.param("denoise").min, template.param("denoise").max) == (0, 1)
    assert template.param("negative").default == ""
    assert [p.name for p in template.options][:2] == ["prompt", "image"]


def test_inpaint_gets_image_and_mask() -> None:
    template = build("inpaint_noise_mask", graph_text("inpaint_noise_mask"))
    assert template.param("image").targets == (Target("1", "image"),)
    mask = template.param("mask")
    assert mask.type is ParamType.MASK
    assert mask.targets == (Target("11", "image"),)
    assert template.has_param("denoise")


def test_upscale_needs_only_an_image() -> None:
    template = build("upscale", graph_text("upscale"))
    assert [p.name for p in template.params] == ["image", "upscale_model"]
    assert template.param("upscale_model").from_backend


def test_primitive_string_node_feeding_the_encoder_is_the_prompt_target() -> None:
    g = graph("sd15_default")
    g["20"] = {"class_type": "PrimitiveStringMultiline", "inputs": {"value": "a fox"}}
    g["6"]["inputs"]["text"] = ["20", 0]
    template = build("wired", g)
    assert template.param("prompt").targets == (Target("20", "value"),)


def test_inferred_ranges_include_the_workflows_own_values() -> None:
    g = graph("sd15_default")
    g["3"]["inputs"]["steps"] = 200
    g["5"]["inputs"]["width"] = 4096
    g["5"]["inputs"]["height"] = 500  # not a multiple of 8
    template = build("big", g)
    assert template.param("steps").max == 200
    assert template.param("width").max == 4096
    assert template.param("height").step is None


def test_command_name_is_sanitised_from_the_file_stem() -> None:
    template = build("My SDXL+Refiner v1.0", graph_text("sd15_default"))
    assert template.name == "my-sdxl-refiner-v1-0"


@pytest.mark.parametrize(
    ("channel", "description"),
    [
        ("alpha", "Mask image (transparent = the area to change)"),
        (None, "Mask image (transparent = the area to change)"),  # ComfyUI's default channel is alpha
        ("red", "Mask image (white = the area to change; its red channel is read)"),
        ("green", "Mask image (white = the area to change; its green channel is read)"),
        ("blue", "Mask image (white = the area to change; its blue channel is read)"),
        (["5", 0], "Mask image (its chosen channel marks the area to change)"),  # set by another node
    ],
)
def test_mask_description_follows_the_channel(channel: object, description: str) -> None:
    inputs: dict[str, object] = {"image": "m.png"}
    if channel is not None:
        inputs["channel"] = channel
    graph = {
        "1": {"class_type": "LoadImageMask", "inputs": inputs},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}},
    }
    (mask,) = [p for p in infer_params(graph) if p.name == "mask"]
    assert mask.description == description
    assert len(description) <= 100  # a Discord option description
