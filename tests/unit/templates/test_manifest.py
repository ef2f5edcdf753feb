"""Manifests: targets by id, title and class, choices, defaults, outputs, actions."""

from __future__ import annotations

import random

import pytest

from bot.templates import Choice, ParamType, Target, render

from .conftest import build, graph, graph_text

SD15 = graph_text("sd15_default")
SDXL = graph_text("sdxl_base_refiner")


def test_design_example_manifest() -> None:
    template = build(
        "imagine",
        graph_text("sdxl_base_refiner"),
        """
        [command]
        name = "draw"
        description = "Draw with SDXL"
        nsfw = true

        [params.prompt]
        type = "text"
        required = true
        max_length = 1500
        targets = ["6.text", "15.text"]

        [params.steps]
        type = "int"
        default = 30
        min = 1
        max = 50
        targets = ["KSampler (Advanced) - BASE.steps", "KSampler (Advanced) - REFINER.steps"]

        [params.size]
        type = "choice"
        default = "square"
        target = "Empty Latent Image"
        choices = { square = { width = 1024, height = 1024 }, portrait = { width = 832, height = 1216 } }
        """,
    )
    assert template.name == "draw"
    assert template.description == "Draw with SDXL"
    assert template.nsfw
    assert not template.inferred
    assert template.param("prompt").targets == (Target("6", "text"), Target("15", "text"))
    assert template.param("steps").targets == (Target("10", "steps"), Target("11", "steps"))
    size = template.param("size")
    assert size.targets == (Target("5"),)
    assert size.choice("portrait") == Choice("portrait", inputs=(("width", 832), ("height", 1216)))
    assert template.param("prompt").description == "Prompt"  # generated when not given
    assert template.outputs == ("19",)  # inferred: no [outputs]
    assert template.websocket_outputs


def test_targets_by_id_title_class_and_table_form() -> None:
    template = build(
        "sd",
        SD15,
        """
        [params.a]
        type = "text"
        target = "6.text"
        [params.b]
        type = "int"
        target = "EmptyLatentImage.width"      # class_type, unique in this graph
        [params.c]
        type = "int"
        target = { node = "5", input = "height" }
        """,
    )
    assert template.param("a").targets == (Target("6", "text"),)
    assert template.param("b").targets == (Target("5", "width"),)
    assert template.param("c").targets == (Target("5", "height"),)


def test_titles_may_contain_dots() -> None:
    g = graph("sd15_default")
    g["4"]["_meta"] = {"title": "SD1.5 Loader"}
    template = build(
        "dots",
        g,
        """
        [params.checkpoint]
        type = "choice"
        target = "SD1.5 Loader.ckpt_name"
        """,
    )
    assert template.param("checkpoint").targets == (Target("4", "ckpt_name"),)


def test_optional_param_without_default_takes_the_workflow_value() -> None:
    template = build(
        "sd",
        SD15,
        """
        [params.steps]
        type = "int"
        min = 1
        max = 50
        target = "3.steps"
        [params.negative]
        type = "text"
        target = "7.text"
        [params.sampler]
        type = "choice"
        target = "3.sampler_name"
        """,
    )
    assert template.param("steps").default == 20
    assert template.param("negative").default == "bad hands"
    assert template.param("sampler").default == "euler"


def test_choice_default_matches_the_workflow_when_not_given() -> None:
    template = build(
        "sd",
        SD15,
        """
        [params.size]
        type = "choice"
        target = "5"
        [params.size.choices]
        big = { width = 768, height = 768 }
        small = { width = 512, height = 512 }
        """,
    )
    assert template.param("size").default == "small"


def test_scalar_choices_to_several_targets() -> None:
    template = build(
        "xl",
        SDXL,
        """
        [params.sampler]
        type = "choice"
        default = "fast"
        targets = ["10.sampler_name", "11.sampler_name"]
        choices = { fast = "euler", "fine detail" = "dpmpp_2m" }
        """,
    )
    rendered = render(template, {"sampler": "fine detail"}, rng=random.Random(0))
    assert rendered.graph["10"]["inputs"]["sampler_name"] == "dpmpp_2m"
    assert rendered.graph["11"]["inputs"]["sampler_name"] == "dpmpp_2m"
    assert rendered.values["sampler"] == "fine detail"


def test_outputs_and_websocket_option() -> None:
    template = build(
        "sd",
        SD15,
        """
        [outputs]
        nodes = ["9"]
        websocket = false
        """,
    )
    assert template.outputs == ("9",)
    assert not template.websocket_outputs
    rendered = render(template, {}, rng=random.Random(0))
    assert rendered.graph["9"]["class_type"] == "SaveImage"
    assert rendered.websocket_nodes == frozenset()
    assert rendered.output_nodes == frozenset({"9"})


def test_manifest_without_params_gives_a_command_without_options() -> None:
    template = build("sd", SD15, "[command]\ndescription = 'Fixed picture'\n")
    assert template.params == ()
    assert template.description == "Fixed picture"


def test_image_params_are_required_unless_said_otherwise() -> None:
    g = graph("img2img")
    g["30"] = {"class_type": "LoadImage", "inputs": {"image": "style.png"}, "_meta": {"title": "Style"}}
    template = build(
        "i2i",
        g,
        """
        [params.image]
        type = "image"
        target = "Load Image.image"
        [params.style]
        type = "image"
        required = false
        target = "Style.image"
        """,
    )
    assert template.param("image").required
    assert not template.param("style").required
    assert template.param("style").default is None
    rendered = render(template, {}, rng=random.Random(0), uploaded={"image": "comfycord/a.png"})
    assert rendered.graph["1"]["inputs"]["image"] == "comfycord/a.png"
    assert rendered.graph["30"]["inputs"]["image"] == "style.png"


def test_all_param_types_parse() -> None:
    g = graph("sd15_default")
    g["20"] = {"class_type": "SlowSteps", "inputs": {"samples": ["5", 0], "steps": 5, "delay": 0.2,
                                                     "seed": 0, "send_previews": True}}  # fmt: skip
    template = build(
        "all",
        g,
        """
        [params.t]
        type = "text"
        target = "6.text"
        [params.i]
        type = "int"
        target = "20.steps"
        [params.f]
        type = "float"
        target = "20.delay"
        [params.b]
        type = "bool"
        target = "20.send_previews"
        [params.s]
        type = "seed"
        targets = ["20.seed", "3.seed"]
        [params.c]
        type = "choice"
        target = "3.scheduler"
        choices = { n = "normal", k = "karras" }
        """,
    )
    kinds = {p.name: p.type for p in template.params}
    assert kinds == {
        "t": ParamType.TEXT, "i": ParamType.INT, "f": ParamType.FLOAT, "b": ParamType.BOOL,
        "s": ParamType.SEED, "c": ParamType.CHOICE,
    }  # fmt: skip
    assert template.param("b").default is True
    assert template.param("c").default == "n"


@pytest.mark.parametrize("websocket", [True, False])
def test_swapped_output_with_preview_image(websocket: bool) -> None:
    template = build(
        "flux", graph_text("flux_cfg_guider"), f"[outputs]\nwebsocket = {str(websocket).lower()}\n"
    )
    rendered = render(template, {}, rng=random.Random(0))
    expected = "SaveImageWebsocket" if websocket else "PreviewImage"
    assert rendered.graph["9"]["class_type"] == expected
