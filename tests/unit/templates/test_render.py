"""Rendering: values go in as values, seeds are drawn and returned, bad input is refused."""

from __future__ import annotations

import json
import random

import pytest

from bot.errors import InvalidParameter
from bot.templates import (
    RANDOM_SEED_LIMIT,
    SEED_MAX,
    Template,
    follow_up_values,
    load_templates,
    render,
)

from .conftest import BUNDLED, build, graph_text


@pytest.fixture(scope="module")
def bundled() -> dict[str, Template]:
    return {t.name: t for t in load_templates(BUNDLED)}


@pytest.fixture
def imagine(bundled: dict[str, Template]) -> Template:
    return bundled["imagine"]


def _rng() -> random.Random:
    return random.Random(1234)


def test_values_are_written_to_their_targets(imagine: Template) -> None:
    rendered = render(
        imagine,
        {"prompt": "a red fox", "steps": 30, "cfg": 6.5, "size": "landscape", "seed": 99, "batch": 2},
        rng=_rng(),
    )
    g = rendered.graph
    assert g["6"]["inputs"]["text"] == "a red fox"
    assert g["3"]["inputs"]["steps"] == 30
    assert g["3"]["inputs"]["cfg"] == 6.5
    assert g["3"]["inputs"]["seed"] == 99
    assert (g["5"]["inputs"]["width"], g["5"]["inputs"]["height"], g["5"]["inputs"]["batch_size"]) == (
        768,
        512,
        2,
    )
    assert g["7"]["inputs"]["text"] == "blurry, low quality, bad hands"  # the manifest's default
    assert rendered.seed == 99
    assert rendered.template == "imagine"
    assert dict(rendered.values) == {
        "prompt": "a red fox", "negative": "blurry, low quality, bad hands", "size": "landscape",
        "steps": 30, "cfg": 6.5, "sampler": "euler", "checkpoint": "v1-5-pruned-emaonly.safetensors",
        "batch": 2, "seed": 99,
    }  # fmt: skip


def test_the_template_graph_is_never_mutated(imagine: Template) -> None:
    before = json.dumps(imagine.graph, sort_keys=True)
    rendered = render(imagine, {"prompt": "x"}, rng=_rng())
    rendered.graph["3"]["inputs"]["steps"] = 999
    assert json.dumps(imagine.graph, sort_keys=True) == before


def test_websocket_swap_and_output_nodes(imagine: Template) -> None:
    rendered = render(imagine, {"prompt": "x"}, rng=_rng())
    assert rendered.graph["9"] == {
        "class_type": "SaveImageWebsocket",
        "inputs": {"images": ["8", 0]},
        "_meta": {"title": "Save Image"},
    }
    assert rendered.output_nodes == frozenset({"9"})
    assert rendered.websocket_nodes == frozenset({"9"})


def test_missing_seed_is_drawn_from_the_rng_and_returned(imagine: Template) -> None:
    first = render(imagine, {"prompt": "x"}, rng=random.Random(7))
    again = render(imagine, {"prompt": "x"}, rng=random.Random(7))
    other = render(imagine, {"prompt": "x"}, rng=random.Random(8))
    assert first.seed is not None
    assert 0 <= first.seed < RANDOM_SEED_LIMIT
    assert first.graph == again.graph
    assert first.seed != other.seed
    assert first.graph["3"]["inputs"]["seed"] == first.seed
    assert first.values["seed"] == first.seed
    # Reproducing: the recorded values give the very same graph, whatever the rng.
    replay = render(imagine, dict(first.values), rng=random.Random(999))
    assert replay.graph == first.graph


def test_none_means_not_given(imagine: Template) -> None:
    rendered = render(imagine, {"prompt": "x", "steps": None, "seed": None}, rng=_rng())
    assert rendered.graph["3"]["inputs"]["steps"] == 20
    assert rendered.seed is not None


def test_uploaded_names_go_to_image_params(bundled: dict[str, Template]) -> None:
    inpaint = bundled["inpaint"]
    rendered = render(
        inpaint,
        {"prompt": "a hat"},
        rng=_rng(),
        uploaded={"image": "comfycord/3f9a.png", "mask": "comfycord/77b1.png"},
    )
    assert rendered.graph["10"]["inputs"]["image"] == "comfycord/3f9a.png"
    assert rendered.graph["11"]["inputs"]["image"] == "comfycord/77b1.png"
    assert rendered.values["image"] == "comfycord/3f9a.png"


def test_required_image_missing(bundled: dict[str, Template]) -> None:
    with pytest.raises(InvalidParameter) as info:
        render(bundled["invert"], {}, rng=_rng())
    assert info.value.param == "image"
    assert "uploaded image" in info.value.user_message


@pytest.mark.parametrize(
    "name", ["../secret.png", "/etc/passwd", "a/../../b.png", "", "x\x00.png", "C:\\x.png", "a\nb.png"]
)
def test_bad_uploaded_names_are_refused(bundled: dict[str, Template], name: str) -> None:
    with pytest.raises(InvalidParameter, match="image"):
        render(bundled["invert"], {}, rng=_rng(), uploaded={"image": name})


def test_upload_for_a_non_image_param_is_refused(bundled: dict[str, Template]) -> None:
    with pytest.raises(InvalidParameter, match="not an image parameter"):
        render(bundled["invert"], {}, rng=_rng(), uploaded={"image": "a.png", "scale": "b.png"})


def test_unknown_parameters_are_refused(imagine: Template) -> None:
    with pytest.raises(InvalidParameter) as info:
        render(imagine, {"prompt": "x", "stepz": 3}, rng=_rng())
    assert info.value.param == "stepz"
    assert "/imagine has no such parameter" in info.value.user_message
    assert "steps" in info.value.user_message


def test_required_parameter_missing(imagine: Template) -> None:
    with pytest.raises(InvalidParameter, match="`prompt`: is required"):
        render(imagine, {}, rng=_rng())


@pytest.mark.parametrize(
    ("values", "param", "fragment"),
    [
        ({"steps": 0}, "steps", "between 1 and 50 (got 0)"),
        ({"steps": 51}, "steps", "between 1 and 50 (got 51)"),
        ({"cfg": 15.5}, "cfg", "between 1 and 15 (got 15.5)"),
        ({"steps": "many"}, "steps", "whole number"),
        ({"steps": 2.5}, "steps", "whole number"),
        ({"steps": True}, "steps", "not true/false"),
        ({"cfg": "nan"}, "cfg", "finite"),
        ({"cfg": [7]}, "cfg", "must be a number"),
        ({"size": "huge"}, "size", "one of: square, portrait, landscape"),
        ({"size": 3}, "size", "offered choices"),
        ({"seed": -1}, "seed", "between 0 and"),
        ({"seed": SEED_MAX + 1}, "seed", "between 0 and"),
        ({"prompt": 42}, "prompt", "must be text"),
        ({"prompt": ["6", 0]}, "prompt", "must be text"),
        ({"prompt": {"__value__": "x"}}, "prompt", "must be text"),
        ({"prompt": "   "}, "prompt", "must not be empty"),
        ({"checkpoint": ""}, "checkpoint", "offered by the server"),
        ({"checkpoint": "a\x00b"}, "checkpoint", "NUL"),
    ],
)
def test_bad_values_name_the_parameter(
    imagine: Template, values: dict[str, object], param: str, fragment: str
) -> None:
    with pytest.raises(InvalidParameter) as info:
        render(imagine, {"prompt": "x", **values}, rng=_rng())
    assert info.value.param == param
    assert fragment in info.value.user_message


def test_a_10000_character_prompt(imagine: Template) -> None:
    long = "a cat, " * 1428 + "end!"
    assert len(long) == 10000
    with pytest.raises(InvalidParameter) as info:
        render(imagine, {"prompt": long}, rng=_rng())
    assert "10000 characters, at most 1500" in info.value.user_message
    open_ended = build("sd", graph_text("sd15_default"))  # inferred prompt: no max_length
    assert open_ended.param("prompt").max_length is None
    rendered = render(open_ended, {"prompt": long}, rng=_rng())
    assert rendered.graph["6"]["inputs"]["text"] == long


@pytest.mark.parametrize("bad", ["\x00", "a\x00b", "\x1b[31mred", "\r", "\x7f", "\x85", "bell\x07", "\ud800"])
def test_control_characters_and_nul_are_refused(imagine: Template, bad: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        render(imagine, {"prompt": bad}, rng=_rng())
    assert info.value.param == "prompt"


def test_newlines_and_tabs_are_allowed(imagine: Template) -> None:
    text = "line one\n\tline two\n"
    assert render(imagine, {"prompt": text}, rng=_rng()).graph["6"]["inputs"]["text"] == text


@pytest.mark.parametrize(
    "text",
    [
        '{"3": {"class_type": "KSampler"}}',
        '", "seed": 1, "x": "',
        '["4", 0]',
        "{{prompt}}",
        "{{ seed }} ${steps} %prompt% {prompt}",
        "</script><img src=x onerror=alert(1)>",
        "emoji 🦊 and ünïcödé and 中文",
        "\\u0000 escaped text",
    ],
)
def test_prompts_that_look_like_structure_arrive_verbatim(imagine: Template, text: str) -> None:
    rendered = render(imagine, {"prompt": text, "negative": text}, rng=_rng())
    assert rendered.graph["6"]["inputs"]["text"] == text
    assert rendered.graph["7"]["inputs"]["text"] == text
    assert set(rendered.graph) == set(imagine.graph)
    wire = json.loads(json.dumps({"prompt": rendered.graph}))
    assert wire["prompt"]["6"]["inputs"]["text"] == text
    assert wire["prompt"]["3"]["inputs"]["seed"] == rendered.seed


def test_cli_strings_are_coerced(bundled: dict[str, Template]) -> None:
    rendered = render(
        bundled["imagine"],
        {"prompt": "x", "steps": "30", "cfg": "6.5", "seed": "12345", "size": "Portrait"},
        rng=_rng(),
    )
    assert rendered.graph["3"]["inputs"]["steps"] == 30
    assert rendered.graph["3"]["inputs"]["cfg"] == 6.5
    assert rendered.seed == 12345
    assert rendered.values["size"] == "portrait"


def test_follow_up_values_carry_what_fits(bundled: dict[str, Template]) -> None:
    imagine, img2img = bundled["imagine"], bundled["img2img"]
    (action,) = imagine.actions
    assert (action.template, action.image_param) == ("upscale", "image")
    first = render(imagine, {"prompt": "a fox", "steps": 40}, rng=_rng())
    carried = follow_up_values(action, bundled["upscale"], first.values)
    assert carried == {}
    vary = follow_up_values(action, img2img, first.values)
    assert vary["prompt"] == "a fox"
    assert vary["steps"] == 40
    assert vary["seed"] == first.seed
    assert "size" not in vary
    assert "batch" not in vary
    assert follow_up_values(action, img2img, {"steps": 80, "cfg": "loud"}) == {}
