"""Loading a folder: every problem kind, reported all at once with file and parameter."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from bot.errors import TemplateError
from bot.templates import load_template, load_templates, load_templates_lenient

from .conftest import build, graph, graph_text, messages, problems_of

SD15 = graph_text("sd15_default")


def _write(folder: Path, stem: str, graph_json: str | None = None, manifest: str | None = None) -> None:
    if graph_json is not None:
        (folder / f"{stem}.json").write_text(graph_json)
    if manifest is not None:
        (folder / f"{stem}.toml").write_text(textwrap.dedent(manifest))


def _one(problems: list[str], *needles: str) -> str:
    found = [p for p in problems if all(n in p for n in needles)]
    assert len(found) == 1, (needles, problems)
    return found[0]


def test_every_problem_in_a_folder_is_reported_at_once(tmp_path: Path) -> None:
    _write(tmp_path, "good", SD15)
    _write(tmp_path, "ui", json.dumps({"last_node_id": 9, "nodes": [], "links": [], "version": 0.4}))
    _write(tmp_path, "broken", '{"3": {"class_type": "KSampler", ')
    _write(tmp_path, "badtoml", SD15, "[command\nname = 'x'\n")
    _write(tmp_path, "orphan", None, "[command]\nname = 'orphan'\n")
    _write(tmp_path, "twin", SD15, "[command]\nname = 'good'\n")
    _write(
        tmp_path,
        "many",
        SD15,
        """
        [params.prompt]
        type = "text"
        target = "Positiv Prompt.text"

        [params.steps]
        type = "int"
        default = 80
        min = 1
        max = 50
        target = "3.steps"

        [params.cfg]
        type = "int"
        target = "6.text"

        [params.negative]
        type = "text"
        target = "7.txt"

        [params.model]
        type = "text"
        target = "3.model"

        [params.seed]
        type = "seed"
        requird = true
        target = "3.seed"
        """,
    )
    with pytest.raises(TemplateError) as info:
        load_templates(tmp_path)
    problems = info.value.problems
    assert "Save (API format)" in _one(problems, "ui.json:", "UI-format")
    assert "line 1" in _one(problems, "broken.json:", "invalid JSON")
    _one(problems, "badtoml.toml:", "invalid TOML")
    _one(problems, "orphan.toml:", "manifest without a workflow")
    _one(problems, "twin.toml:", "[command]", "'good' is already used by good.json")
    _one(problems, "many.toml:", "param 'prompt'", "no node has the id or title 'Positiv Prompt'")
    _one(problems, "many.toml:", "param 'steps'", "default 80", "between 1 and 50")
    _one(problems, "many.toml:", "param 'cfg'", "type mismatch", "int parameter", "6.text")
    _one(problems, "many.toml:", "param 'negative'", "has no input 'txt'", "text")
    _one(problems, "many.toml:", "param 'model'", "connected to node 4")
    _one(problems, "many.toml:", "param 'seed'", "unknown key 'requird'")
    assert len(problems) == 11
    assert "Template problems" in info.value.user_message


def test_lenient_load_keeps_the_good_templates(tmp_path: Path) -> None:
    _write(tmp_path, "good", SD15)
    _write(tmp_path, "bad", "{}")
    templates, problems = load_templates_lenient(tmp_path)
    assert templates.names == ("good",)
    assert "good" in templates
    assert messages(problems) == ["bad.json: the workflow has no nodes"]


def test_ambiguous_title_names_the_matching_nodes() -> None:
    problems = problems_of(
        "xl",
        graph_text("sdxl_base_refiner"),
        """
        [params.prompt]
        type = "text"
        target = "CLIP Text Encode (Prompt).text"
        """,
    )
    (message,) = messages(problems)
    assert message.startswith("xl.toml: param 'prompt': target 'CLIP Text Encode (Prompt).text'")
    assert "ambiguous" in message
    assert "6, 7, 15, 16" in message


def test_manifest_structure_problems() -> None:
    problems = messages(
        problems_of(
            "sd",
            SD15,
            """
            colour = "red"
            [command]
            name = "Bad Name!"
            description = ""
            nsfw = "no"
            [params.a]
            type = "txt"
            target = "6.text"
            [params.b]
            type = "text"
            required = true
            default = "x"
            target = "6.text"
            [params.c]
            type = "int"
            min = 10
            max = 1
            target = "3.steps"
            [params.d]
            type = "int"
            target = "3.steps"
            [params.e]
            type = "text"
            [params.f]
            type = "text"
            target = "6.text"
            targets = ["7.text"]
            [params.g]
            type = "choice"
            target = "5.width"
            choices = { a = 512, b = { width = 1 } }
            [params.h]
            type = "choice"
            target = "5.width"
            choices = {}
            [params.i]
            type = "text"
            max_length = 0
            target = "7.text"
            [outputs]
            nodes = ["Nope"]
            websocket = "yes"
            """,
        )
    )
    _one(problems, "sd.toml: manifest:", "unknown key 'colour'")
    _one(problems, "[command]", "not a valid Discord command name")
    _one(problems, "[command]", "description is empty")
    _one(problems, "[command]", "nsfw must be true or false")
    _one(problems, "param 'a'", "type must be one of")
    _one(problems, "param 'b'", "required and has a default")
    _one(problems, "param 'c'", "min 10 is above max 1")
    _one(problems, "param 'd'", "3.steps is also set by param 'c'")
    _one(problems, "param 'e'", "needs a target")
    _one(problems, "param 'f'", "either target or targets")
    _one(problems, "param 'g'", "mix single values and tables")
    _one(problems, "param 'h'", "choices is empty")
    _one(problems, "param 'i'", "max_length must be a whole number")
    _one(problems, "[outputs]", "node 'Nope'")
    _one(problems, "[outputs]", "websocket must be true or false")
    assert all(p.startswith("sd.toml: ") for p in problems)


def test_type_mismatches_in_every_direction() -> None:
    g = graph("sd15_default")
    g["20"] = {"class_type": "SlowSteps", "inputs": {"samples": ["5", 0], "steps": 5, "delay": 0.2,
                                                     "seed": 0, "send_previews": True}}  # fmt: skip
    problems = messages(
        problems_of(
            "sd",
            g,
            """
            [params.a]
            type = "text"
            target = "3.steps"
            [params.b]
            type = "int"
            target = "20.delay"
            [params.c]
            type = "bool"
            target = "3.seed"
            [params.d]
            type = "float"
            target = "20.send_previews"
            [params.e]
            type = "image"
            target = "3.cfg"
            [params.f]
            type = "choice"
            target = "3.denoise"
            choices = { one = "1" }
            [params.g]
            type = "choice"
            target = "5"
            choices = { big = { width = "1024", depth = 3 } }
            [params.h]
            type = "seed"
            target = "6.text"
            """,
        )
    )
    _one(problems, "param 'a'", "type mismatch", "3.steps", "a whole number (20)")
    _one(problems, "param 'b'", "type mismatch", "20.delay", "0.2")
    _one(problems, "param 'c'", "type mismatch", "3.seed")
    _one(problems, "param 'd'", "type mismatch", "20.send_previews")
    _one(problems, "param 'e'", "type mismatch", "3.cfg")
    _one(problems, "param 'f'", "choice 'one' is text", "3.denoise")
    _one(problems, "param 'g'", "choice 'big'", "sets width to text")
    _one(problems, "param 'g'", "choice 'big'", "has no input 'depth'")
    _one(problems, "param 'h'", "type mismatch", "6.text")


def test_targets_that_cannot_work() -> None:
    problems = messages(
        problems_of(
            "sd",
            SD15,
            """
            [params.a]
            type = "text"
            target = "6"
            [params.b]
            type = "choice"
            target = "5.width"
            choices = { big = { width = 1024, height = 1024 } }
            [params.c]
            type = "text"
            targets = ["7.text", "7.text"]
            [params.d]
            type = "text"
            target = "9.filename_prefix"
            [params.e]
            type = "int"
            target = 5
            """,
        )
    )
    _one(problems, "param 'a'", "names a node but no input")
    _one(problems, "param 'b'", "names an input, but the choices are tables")
    _one(problems, "param 'c'", "listed twice")
    _one(problems, "param 'd'", "disappears when websocket outputs replace SaveImage")
    _one(problems, "param 'e'", "a target is")


def test_defaults_are_checked_against_bounds_and_rules() -> None:
    problems = messages(
        problems_of(
            "sd",
            SD15,
            """
            [params.steps]
            type = "int"
            min = 1
            max = 10
            target = "3.steps"           # the workflow holds 20
            [params.cfg]
            type = "float"
            default = 0.5
            min = 1.0
            target = "3.cfg"
            [params.width]
            type = "int"
            default = 500
            min = 64
            step = 64
            target = "5.width"
            [params.prompt]
            type = "text"
            default = "way too long"
            max_length = 5
            target = "6.text"
            [params.sampler]
            type = "choice"
            default = "slow"
            target = "3.sampler_name"
            choices = { fast = "euler" }
            [params.image]
            type = "image"
            required = false
            default = "x.png"
            target = "9.filename_prefix"
            """,
        )
    )
    _one(problems, "param 'steps'", "the workflow's value 20 is invalid", "between 1 and 10")
    _one(problems, "param 'cfg'", "default 0.5 is invalid", "at least 1")
    _one(problems, "param 'width'", "default 500", "multiple of 64")
    _one(problems, "param 'prompt'", "default 'way too long'", "too long")
    _one(problems, "param 'sampler'", "default 'slow'", "must be one of: fast")
    _one(problems, "param 'image'", "cannot have a default")


def test_discord_limits() -> None:
    bag = {
        "1": {"class_type": "Bag", "inputs": {f"v{i}": i for i in range(30)}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
    }
    long = "x" * 101
    many_choices = ", ".join(f"c{i} = {i}" for i in range(26))
    text = f'[command]\ndescription = "{long}"\n'
    text += f'[params.p0]\ntype = "choice"\ntarget = "1.v0"\nchoices = {{ {many_choices} }}\n'
    text += "".join(f'[params.p{i}]\ntype = "int"\ntarget = "1.v{i}"\n' for i in range(1, 26))
    text += (
        f'[params.p27]\ntype = "choice"\ntarget = "1.v27"\ndescription = "{long}"\n'
        f'choices = {{ "{long}" = 27 }}\n'
    )
    text += '[params.p28]\ntype = "int"\nrequired = true\ntarget = "1.v28"\nmin = -9007199254740993\n'
    text += '[params.Bad]\ntype = "int"\ntarget = "1.v29"\n'
    problems = messages(problems_of("bag", bag, text))
    _one(problems, "[command]", "description is 101 characters")
    _one(problems, "[params]", "29 parameters; Discord allows at most 25")
    _one(problems, "param 'p0'", "26 choices")
    _one(problems, "param 'p27'", "description is 101 characters")
    _one(problems, "param 'p27'", "choice name", "1-100 characters")
    _one(problems, "param 'p28'", "outside Discord's range")
    _one(problems, "param 'Bad'", "not a valid Discord option name")


def test_required_options_are_ordered_first() -> None:
    template = build(
        "sd",
        SD15,
        """
        [params.negative]
        type = "text"
        target = "7.text"
        [params.prompt]
        type = "text"
        required = true
        target = "6.text"
        """,
    )
    assert [p.name for p in template.params] == ["negative", "prompt"]
    assert [p.name for p in template.options] == ["prompt", "negative"]


def test_graph_problems_are_named_with_the_json_file() -> None:
    g = graph("sd15_default")
    g["8"]["inputs"]["samples"] = ["99", 0]
    del g["4"]["class_type"]
    problems = messages(problems_of("sd", g))
    _one(problems, "sd.json: node 8", "links to node 99")
    _one(problems, "sd.json: node 4", "has no class_type")


def test_api_shape_is_required() -> None:
    assert messages(problems_of("x", "[1, 2]")) == [
        "x.json: the workflow must be a JSON object of nodes (an API-format export)"
    ]


def test_actions_are_checked_against_the_templates_they_run(tmp_path: Path) -> None:
    _write(tmp_path, "upscale", graph_text("upscale"))
    _write(
        tmp_path,
        "draw",
        SD15,
        """
        [[actions]]
        label = "Upscale"
        template = "upscale"
        values = { upscale_model = "4x-UltraSharp.pth" }

        [[actions]]
        label = "Missing"
        template = "nope"

        [[actions]]
        label = "Wrong param"
        template = "upscale"
        image_param = "upscale_model"

        [[actions]]
        label = "Bad value"
        template = "upscale"
        values = { nothing = 1 }
        """,
    )
    templates, problems = load_templates_lenient(tmp_path)
    found = messages(problems)
    _one(found, "draw.toml: action 2 ('Missing')", "template 'nope' is not loaded")
    _one(found, "draw.toml: action 3 ('Wrong param')", "no image parameter 'upscale_model'")
    _one(found, "draw.toml: action 4 ('Bad value')", "value 'nothing'")
    assert len(found) == 3
    (action,) = templates["draw"].actions  # broken actions are dropped in lenient mode
    assert action.image_param == "image"
    assert action.fixed_values() == {"upscale_model": "4x-UltraSharp.pth"}


def test_malformed_actions() -> None:
    problems = messages(
        problems_of(
            "sd",
            SD15,
            """
            [[actions]]
            label = ""
            template = 3
            image_param = 1
            values = { a = [1] }
            colour = "red"
            """,
        )
    )
    _one(problems, "sd.toml: action 1:", "label must be 1-80")
    _one(problems, "sd.toml: action 1:", "template must name a command")
    _one(problems, "sd.toml: action 1:", "image_param must be")
    _one(problems, "sd.toml: action 1:", "values must be a table")
    _one(problems, "sd.toml: action 1:", "unknown key 'colour'")


def test_load_template_single_file(tmp_path: Path) -> None:
    _write(tmp_path, "one", SD15, "[command]\nname = 'solo'\n")
    assert load_template(tmp_path / "one.json").name == "solo"
    _write(tmp_path, "two", "{")
    with pytest.raises(TemplateError) as info:
        load_template(tmp_path / "two.json")
    assert info.value.problems[0].startswith("two.json: invalid JSON")


def test_missing_folder_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="does not exist"):
        load_templates(tmp_path / "nowhere")


def test_a_prompt_request_body_is_recognised() -> None:
    body = json.dumps({"prompt": graph("sd15_default"), "client_id": "abc"})
    (message,) = messages(problems_of("req", body))
    assert "a /prompt request body" in message


def test_a_byte_order_mark_is_tolerated(tmp_path: Path) -> None:
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + SD15.encode())
    assert load_template(tmp_path / "bom.json").name == "bom"
