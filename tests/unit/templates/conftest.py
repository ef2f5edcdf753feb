"""Helpers shared by the template tests: fixture graphs, object_info, building templates from text."""

from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from bot.templates import Problem, Template, parse_template

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data"
GRAPHS = DATA / "workflows"
BUNDLED = ROOT / "workflows"


def graph_text(name: str) -> str:
    return (GRAPHS / f"{name}.json").read_text()


def graph(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(graph_text(name))
    return data


def build(stem: str, graph_json: str | dict[str, Any], manifest: str | None = None) -> Template:
    """A template from a graph and manifest text; fails the test on any problem."""
    text = graph_json if isinstance(graph_json, str) else json.dumps(graph_json)
    template, problems = parse_template(
        stem, text, textwrap.dedent(manifest) if manifest is not None else None
    )
    assert problems == [], [str(p) for p in problems]
    assert template is not None
    return template


def problems_of(stem: str, graph_json: str | dict[str, Any], manifest: str | None = None) -> list[Problem]:
    text = graph_json if isinstance(graph_json, str) else json.dumps(graph_json)
    template, problems = parse_template(
        stem, text, textwrap.dedent(manifest) if manifest is not None else None
    )
    assert template is None
    assert problems
    return problems


def messages(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems]


def _combo(options: list[str], **opts: Any) -> list[Any]:
    return [options, opts] if opts else [options]


def _node(required: dict[str, Any], *, output_node: bool = False) -> dict[str, Any]:
    return {"input": {"required": required}, "output_node": output_node}


#: Entries missing from the recorded subset, written the way /object_info shows them.
SYNTHESIZED: dict[str, Any] = {
    "CLIPTextEncode": _node(
        {"text": ["STRING", {"multiline": True, "dynamicPrompts": True}], "clip": ["CLIP"]}
    ),
    "VAEDecode": _node({"samples": ["LATENT"], "vae": ["VAE"]}),
    "VAEEncode": _node({"pixels": ["IMAGE"], "vae": ["VAE"]}),
    "VAEEncodeForInpaint": _node(
        {
            "pixels": ["IMAGE"],
            "vae": ["VAE"],
            "mask": ["MASK"],
            "grow_mask_by": ["INT", {"default": 6, "min": 0, "max": 64, "step": 1}],
        }
    ),
    "LoadImageMask": _node(
        {
            "image": _combo(["example.png"], image_upload=True),
            "channel": _combo(["alpha", "red", "green", "blue"]),
        }
    ),
    "ImageScaleBy": _node(
        {
            "image": ["IMAGE"],
            "upscale_method": _combo(["nearest-exact", "bilinear", "area", "bicubic", "lanczos"]),
            "scale_by": ["FLOAT", {"default": 1.0, "min": 0.01, "max": 8.0, "step": 0.01}],
        }
    ),
    "UpscaleModelLoader": _node({"model_name": _combo(["RealESRGAN_x4plus.pth"])}),
    "ImageUpscaleWithModel": _node({"upscale_model": ["UPSCALE_MODEL"], "image": ["IMAGE"]}),
}


@pytest.fixture
def object_info_subset() -> dict[str, Any]:
    """The real /object_info entries recorded from a ComfyUI with no models installed."""
    data: dict[str, Any] = json.loads((DATA / "object_info_subset.json").read_text())
    return data


@pytest.fixture
def object_info_bare(object_info_subset: dict[str, Any]) -> dict[str, Any]:
    """A bare ComfyUI: the recorded subset plus the core nodes it left out, still with no models."""
    info = copy.deepcopy(object_info_subset)
    info.update(copy.deepcopy(SYNTHESIZED))
    info["UpscaleModelLoader"]["input"]["required"]["model_name"] = [[]]
    return info


@pytest.fixture
def object_info_full(object_info_bare: dict[str, Any]) -> dict[str, Any]:
    """The same ComfyUI with an SD1.5 checkpoint, an inpainting checkpoint and an upscale model."""
    info = copy.deepcopy(object_info_bare)
    info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0] = [
        "512-inpainting-ema.safetensors",
        "v1-5-pruned-emaonly.safetensors",
    ]
    info["UpscaleModelLoader"]["input"]["required"]["model_name"] = [["RealESRGAN_x4plus.pth"]]
    return info
