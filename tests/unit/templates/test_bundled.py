"""The workflows shipped in workflows/ load cleanly and keep their promises."""

from __future__ import annotations

import ast
import json
import random
from pathlib import Path

from bot.templates import ParamType, load_templates, load_templates_lenient, render

from .conftest import BUNDLED, ROOT


def test_all_bundled_workflows_load_with_zero_problems() -> None:
    templates, problems = load_templates_lenient(BUNDLED)
    assert [str(p) for p in problems] == []
    assert set(templates.names) == {"imagine", "img2img", "inpaint", "upscale", "invert", "pulse"}
    assert all(not t.inferred for t in templates)
    assert all(t.websocket_outputs for t in templates)


def test_every_bundled_workflow_has_a_manifest_and_is_api_format() -> None:
    for path in BUNDLED.glob("*.json"):
        assert path.with_suffix(".toml").exists(), path.name
        data = json.loads(path.read_text())
        assert "nodes" not in data
        assert all("class_type" in node for node in data.values())


def test_imagine_is_the_seed_graph_with_a_size_choice_and_an_upscale_action() -> None:
    imagine = load_templates(BUNDLED)["imagine"]
    classes = sorted(node["class_type"] for node in imagine.graph.values())
    assert classes == sorted(
        ["KSampler", "CheckpointLoaderSimple", "EmptyLatentImage", "CLIPTextEncode", "CLIPTextEncode",
         "VAEDecode", "SaveImage"]
    )  # fmt: skip
    size = imagine.param("size")
    assert [c.label for c in size.choices] == ["square", "portrait", "landscape"]
    assert all(set(c.as_inputs()) == {"width", "height"} for c in size.choices)
    (action,) = imagine.actions
    assert (action.label, action.template, action.image_param) == ("Upscale", "upscale", "image")
    rendered = render(imagine, {"prompt": "a cat"}, rng=random.Random(0))
    assert {rendered.graph[n]["class_type"] for n in rendered.output_nodes} == {"SaveImageWebsocket"}


def test_image_templates_take_uploads() -> None:
    templates = load_templates(BUNDLED)
    assert templates["img2img"].param("strength").targets[0].input == "denoise"
    inpaint = templates["inpaint"]
    assert inpaint.param("image").type is ParamType.IMAGE
    assert inpaint.param("mask").type is ParamType.MASK
    assert {n["class_type"] for n in inpaint.graph.values()} >= {"VAEEncodeForInpaint", "LoadImageMask"}
    upscale = templates["upscale"]
    assert {n["class_type"] for n in upscale.graph.values()} >= {
        "UpscaleModelLoader",
        "ImageUpscaleWithModel",
    }
    invert = templates["invert"]
    assert [n["class_type"] for n in invert.graph.values()] == [
        "LoadImage", "ImageInvert", "ImageScaleBy", "SaveImageWebsocket",
    ]  # fmt: skip
    rendered = render(invert, {"scale": "2"}, rng=random.Random(0), uploaded={"image": "comfycord/a.png"})
    assert rendered.graph["3"]["inputs"]["scale_by"] == 2.0
    assert rendered.seed is None
    assert rendered.websocket_nodes == frozenset({"4"})


def test_pulse_is_a_model_free_animation() -> None:
    """Core nodes only (no model, no custom node): it runs on a bare ComfyUI, like /invert."""
    pulse = load_templates(BUNDLED)["pulse"]
    classes = {n["class_type"] for n in pulse.graph.values()}
    assert classes == {"LoadImage", "ImageInvert", "ImageBlend", "ImageBatch", "SaveAnimatedWEBP"}
    assert pulse.outputs == ("10",)
    assert pulse.class_type("10") == "SaveAnimatedWEBP"  # never swapped for the websocket
    rendered = render(pulse, {"fps": 12}, rng=random.Random(0), uploaded={"image": "comfycord/a.png"})
    assert rendered.graph["10"]["inputs"]["fps"] == 12.0
    assert rendered.websocket_nodes == frozenset()


def test_templates_package_is_pure() -> None:
    """No discord, no network, no asyncio: the package is plain functions over data."""
    banned = {"discord", "aiohttp", "socket", "asyncio", "urllib", "http", "requests"}
    for path in (ROOT / "bot" / "templates").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            assert not banned & set(names), (Path(path).name, names)
