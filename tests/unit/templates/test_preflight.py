"""Pre-flight against /object_info: node classes, inputs, types, ranges and combo values."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from bot.templates import (
    Capability,
    Template,
    backend_options,
    capability_map,
    load_templates,
    merged_backend_options,
    preflight,
    render,
)

from .conftest import BUNDLED, build, graph, graph_text


@pytest.fixture(scope="module")
def bundled() -> dict[str, Template]:
    return {t.name: t for t in load_templates(BUNDLED)}


def _reasons(capability: Capability, fragment: str) -> list[str]:
    return [r for r in capability.reasons if fragment in r]


def test_invert_on_the_recorded_server_lacks_only_image_scale_by(
    bundled: dict[str, Template], object_info_subset: dict[str, Any]
) -> None:
    capability = preflight(bundled["invert"], object_info_subset, backend="gpu-1")
    assert capability.backend == "gpu-1"
    assert capability.template == "invert"
    assert not capability.ok
    assert capability.reasons == (
        "node 3 ('Scale Image', ImageScaleBy): node type ImageScaleBy is not installed on this backend",
    )


def test_model_free_invert_runs_on_a_bare_comfyui(
    bundled: dict[str, Template], object_info_bare: dict[str, Any]
) -> None:
    assert preflight(bundled["invert"], object_info_bare).ok


def test_model_templates_need_their_models(
    bundled: dict[str, Template], object_info_bare: dict[str, Any], object_info_full: dict[str, Any]
) -> None:
    imagine = preflight(bundled["imagine"], object_info_bare)
    assert _reasons(imagine, "ckpt_name 'v1-5-pruned-emaonly.safetensors' is not available")
    assert _reasons(imagine, "none installed")
    upscale = preflight(bundled["upscale"], object_info_bare)
    assert _reasons(upscale, "model_name 'RealESRGAN_x4plus.pth' is not available")
    for name in ("imagine", "img2img", "inpaint", "upscale", "invert"):
        assert preflight(bundled[name], object_info_full).reasons == (), name


def test_capability_map_for_many_backends(
    bundled: dict[str, Template], object_info_bare: dict[str, Any], object_info_full: dict[str, Any]
) -> None:
    caps = capability_map(bundled.values(), {"small": object_info_bare, "big": object_info_full})
    assert set(caps) == set(bundled)
    assert {b for b, c in caps["invert"].items() if c.ok} == {"small", "big"}
    assert {b for b, c in caps["imagine"].items() if c.ok} == {"big"}
    assert caps["imagine"]["small"].backend == "small"


def test_a_rendered_job_is_checked_with_its_own_values(
    bundled: dict[str, Template], object_info_full: dict[str, Any]
) -> None:
    imagine = bundled["imagine"]
    ok = render(
        imagine, {"prompt": "x", "checkpoint": "512-inpainting-ema.safetensors"}, rng=random.Random(0)
    )
    assert preflight(imagine, object_info_full, rendered=ok).ok
    missing = render(imagine, {"prompt": "x", "checkpoint": "sdxl.safetensors"}, rng=random.Random(0))
    capability = preflight(imagine, object_info_full, rendered=missing)
    assert _reasons(capability, "ckpt_name 'sdxl.safetensors' is not available")
    bad_sampler = render(imagine, {"prompt": "x", "sampler": "warp_drive"}, rng=random.Random(0))
    assert _reasons(preflight(imagine, object_info_full, rendered=bad_sampler), "sampler_name 'warp_drive'")


def test_uploaded_subfolder_names_are_not_checked_against_the_combo(
    bundled: dict[str, Template], object_info_bare: dict[str, Any]
) -> None:
    rendered = render(bundled["invert"], {}, rng=random.Random(0), uploaded={"image": "comfycord/new.png"})
    assert preflight(bundled["invert"], object_info_bare, rendered=rendered).ok


def test_choice_values_must_be_offered(
    bundled: dict[str, Template], object_info_bare: dict[str, Any]
) -> None:
    info = copy.deepcopy(object_info_bare)
    info["ImageScaleBy"]["input"]["required"]["upscale_method"] = [["nearest-exact", "bilinear"]]
    capability = preflight(bundled["invert"], info)
    assert len(_reasons(capability, "param 'method': choice")) == 3
    assert _reasons(capability, "choice 'lanczos': upscale_method 'lanczos' is not available")
    assert backend_options(bundled["invert"], bundled["invert"].param("method"), info) == (
        "nearest",
        "bilinear",
    )


def test_inputs_types_and_ranges_of_the_backend(object_info_full: dict[str, Any]) -> None:
    template = build(
        "sd",
        graph_text("sd15_default"),
        """
        [params.width]
        type = "int"
        min = 8
        max = 20000
        target = "5.width"
        [params.height]
        type = "float"
        target = "5.height"
        [params.steps]
        type = "text"
        target = "3.sampler_name"
        [params.cfg]
        type = "float"
        min = 0.0
        max = 30.0
        target = "3.cfg"
        """,
    )
    info = copy.deepcopy(object_info_full)
    info["CLIPTextEncode"] = {"input": {"required": {"clip": ["CLIP"], "text": ["STRING", {}]}}}
    info["VAEDecode"] = {"input": {"required": {"samples": ["LATENT"], "vae": ["VAE"]}}}
    capability = preflight(template, info)
    assert _reasons(
        capability, "param 'width': allows 8 but 'width' of node 5 (EmptyLatentImage) needs at least 16"
    )
    assert _reasons(
        capability, "param 'width': allows 20000 but 'width' of node 5 (EmptyLatentImage) accepts at most"
    )
    assert _reasons(capability, "param 'height': a float parameter cannot set 'height'")
    assert _reasons(capability, "param 'steps': a text parameter cannot set 'sampler_name'")
    assert not _reasons(capability, "param 'cfg'")


def test_missing_inputs_required_inputs_and_out_of_range_values(object_info_full: dict[str, Any]) -> None:
    g = graph("sd15_default")
    del g["3"]["inputs"]["denoise"]
    g["5"]["inputs"]["width"] = 8
    g["5"]["inputs"]["height"] = 99999
    template = build(
        "old",
        g,
        """
        [params.prompt]
        type = "text"
        required = true
        target = "6.text"
        [params.extra]
        type = "int"
        target = "5.batch_size"
        """,
    )
    info = copy.deepcopy(object_info_full)
    del info["EmptyLatentImage"]["input"]["required"]["batch_size"]
    capability = preflight(template, info)
    assert _reasons(capability, "node 3 (KSampler): required input 'denoise' is missing")
    assert _reasons(capability, "node 5 (EmptyLatentImage): width 8 is below this backend's minimum 16")
    assert _reasons(capability, "height 99999 is above this backend's maximum 16384")
    assert _reasons(capability, "param 'extra': node 5 (EmptyLatentImage) has no input 'batch_size'")


def test_required_prompt_and_seed_values_of_the_export_are_not_checked(
    object_info_full: dict[str, Any],
) -> None:
    g = graph("sd15_default")
    g["3"]["inputs"]["seed"] = 2**70  # out of KSampler's range, but always replaced by the seed param
    template = build("sd", g)
    assert preflight(template, object_info_full).ok


def test_declared_output_that_is_not_an_output_node(object_info_full: dict[str, Any]) -> None:
    template = build("sd", graph_text("sd15_default"), '[outputs]\nnodes = ["5"]\n')
    assert _reasons(preflight(template, object_info_full), "declared an output but is not an output node")


def test_malformed_object_info_does_not_crash(bundled: dict[str, Template]) -> None:
    info: dict[str, Any] = {
        "LoadImage": "oops",
        "ImageInvert": {"input": {"required": {"image": 5}}},
        "ImageScaleBy": {"input": {"required": None, "optional": {"scale_by": []}}},
        "SaveImageWebsocket": {"input": {}},
    }
    capability = preflight(bundled["invert"], info)
    assert _reasons(capability, "entry for LoadImage is unusable")
    assert _reasons(capability, "param 'scale': node 3 ('Scale Image', ImageScaleBy) has no input 'scale_by'")


def test_backend_options_for_autocomplete(
    bundled: dict[str, Template], object_info_subset: dict[str, Any], object_info_full: dict[str, Any]
) -> None:
    imagine = bundled["imagine"]
    checkpoint = imagine.param("checkpoint")
    assert backend_options(imagine, checkpoint, object_info_subset) == ()
    assert backend_options(imagine, checkpoint, object_info_full) == (
        "512-inpainting-ema.safetensors",
        "v1-5-pruned-emaonly.safetensors",
    )
    samplers = backend_options(imagine, imagine.param("sampler"), object_info_subset)
    assert samplers[:3] == ("euler", "euler_cfg_pp", "euler_ancestral")
    assert len(samplers) == 42
    assert backend_options(imagine, imagine.param("steps"), object_info_full) == ()
    assert backend_options(imagine, imagine.param("size"), object_info_full) == (
        "square",
        "portrait",
        "landscape",
    )
    other = copy.deepcopy(object_info_full)
    other["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0] = [
        "sdxl.safetensors",
        "v1-5-pruned-emaonly.safetensors",
    ]
    assert merged_backend_options(imagine, checkpoint, [object_info_full, other, object_info_subset]) == (
        "512-inpainting-ema.safetensors",
        "v1-5-pruned-emaonly.safetensors",
        "sdxl.safetensors",
    )


def test_new_style_combo_spec(bundled: dict[str, Template], object_info_full: dict[str, Any]) -> None:
    info = copy.deepcopy(object_info_full)
    info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"] = [
        "COMBO",
        {"options": ["v1-5-pruned-emaonly.safetensors"]},
    ]
    imagine = bundled["imagine"]
    assert backend_options(imagine, imagine.param("checkpoint"), info) == ("v1-5-pruned-emaonly.safetensors",)
    assert preflight(imagine, info).ok
