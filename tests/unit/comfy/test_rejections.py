"""Every recorded validation body of a real ComfyUI 0.3.64, as the member reads it: each problem once,
named by node and input, with the input's name not repeated from ComfyUI's details."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.comfy.rejections import rejection_from_body, without_input_name

DATA = Path(__file__).resolve().parents[2] / "data" / "comfyui" / "04_validation_errors.jsonl"
HEAD = "The workflow was rejected by the image server: "
EXPECTED = {
    "unknown_class_type": "node 2 (unknown node): Cannot execute because node NoSuchNodeXYZ does not exist.",
    "missing_class_type": "node 2 (unknown node): Cannot execute because a node is missing the class_type "
    "property.",
    "missing_required_input": "node 2 (ImageInvert), input 'image': a required input is missing",
    "bad_value_type_int": "node 11 (SlowSteps), input 'steps': 'abc' is not a valid INT value",
    "value_smaller_than_min": "node 11 (SlowSteps), input 'steps': Value 0 smaller than min of 1",
    "value_bigger_than_max": "node 11 (SlowSteps), input 'delay': Value 99.0 bigger than max of 10.0",
    "value_not_in_list": "node 13 (ImageScale), input 'upscale_method': 'not-a-method' is not offered by "
    "this server (choices: nearest-exact, bilinear, area, bicubic, lanczos)",
    "loadimage_missing_file_custom_validation": "node 1 (LoadImage), input 'image': Invalid image file: "
    "no_such_file.png",
    "return_type_mismatch_MASK_to_IMAGE": "node 3 (SaveImageWebsocket), input 'images': it is linked to a "
    "MASK output but needs IMAGE",
    "bad_linked_input_len3": "node 3 (SaveImageWebsocket), input 'images': Bad linked input, must be a "
    "length-2 list of [node_id, slot_index]",
    "link_to_nonexistent_node": "node 3 (SaveImageWebsocket): it links to node '99' which is not in the "
    "workflow",
    "prompt_no_outputs": "Prompt has no outputs",
    "two_outputs_both_invalid": "node 14b (SaveImageWebsocket): it links to node '99' which is not in the "
    "workflow; node 11 (SlowSteps), input 'steps': 'abc' is not a valid INT value",
    "no_prompt_key": "No prompt provided",
}


def _bodies() -> dict[str, dict]:
    bodies = {}
    for line in DATA.read_text().splitlines():
        record = json.loads(line)
        body = (record.get("response") or {}).get("json")
        if isinstance(body, dict) and "error" in body:
            bodies[record["label"]] = body
    return bodies


BODIES = _bodies()


def test_every_recorded_rejection_is_covered() -> None:
    assert set(BODIES) == set(EXPECTED)


@pytest.mark.parametrize("label", sorted(EXPECTED))
def test_recorded_rejection_reads_plainly(label: str) -> None:
    message = rejection_from_body(BODIES[label]).user_message
    assert message == HEAD + EXPECTED[label]


@pytest.mark.parametrize(
    ("details", "name", "expected"),
    [
        ("image - Invalid image file: x.png", "image", "Invalid image file: x.png"),
        ("steps", "steps", ""),
        ("steps, abc, invalid literal", "steps", "abc, invalid literal"),
        ("upscale_method: 'x' not in [...]", "upscale_method", "'x' not in [...]"),
        ("images2 - other input", "images", "images2 - other input"),  # a longer name is not ours
        ("'99'", None, "'99'"),
        ("", "image", ""),
    ],
)
def test_without_input_name(details: str, name: str | None, expected: str) -> None:
    assert without_input_name(details, name) == expected
