"""Properties: rendering never changes a graph's structure, and text always arrives byte for byte."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.templates import ParamType, Template, load_templates, render
from bot.templates.graph import link_source

from .conftest import BUNDLED, GRAPHS, build

FIXTURES = sorted(p.stem for p in GRAPHS.glob("*.json"))
TEMPLATES: list[Template] = [build(stem, (GRAPHS / f"{stem}.json").read_text()) for stem in FIXTURES]
TEMPLATES += list(load_templates(BUNDLED))

#: Any text a member can type: no control characters (except newline and tab) and no lone surrogates.
clean_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), whitelist_characters="\n\t"), max_size=300
)


def _structure(graph: Any) -> tuple[set[str], dict[str, str], set[tuple[str, str, str, int]]]:
    links = {
        (node_id, name, str(value[0]), value[1])
        for node_id, node in graph.items()
        for name, value in node["inputs"].items()
        if link_source(value) is not None
    }
    return set(graph), {k: v["class_type"] for k, v in graph.items()}, links


def _value_for(template: Template, name: str, data: st.DataObject) -> object:
    param = template.param(name)
    kind = param.type
    if kind is ParamType.TEXT:
        limit = param.max_length or 300
        return data.draw(clean_text.filter(lambda t: t.strip() and len(t) <= limit))
    if kind is ParamType.INT:
        low = int(param.min if param.min is not None else -1000)
        high = int(param.max if param.max is not None else 1000)
        step = int(param.step or 1)
        return low + step * data.draw(st.integers(0, (high - low) // step))
    if kind is ParamType.FLOAT:
        bottom = float(param.min if param.min is not None else -1000.0)
        top = float(param.max if param.max is not None else 1000.0)
        return data.draw(st.floats(bottom, top, allow_nan=False))
    if kind is ParamType.SEED:
        return data.draw(st.integers(0, 2**64 - 1))
    if kind is ParamType.BOOL:
        return data.draw(st.booleans())
    if kind is ParamType.CHOICE and param.choices:
        return data.draw(st.sampled_from([c.label for c in param.choices]))
    if kind is ParamType.CHOICE:
        return data.draw(st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40))
    return data.draw(st.sampled_from(["a.png", "comfycord/0123abcd.png", "sub dir/x (1).webp"]))


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.source)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_rendering_never_changes_structure(template: Template, data: st.DataObject) -> None:
    names = [p.name for p in template.params if p.required or data.draw(st.booleans())]
    values = {n: _value_for(template, n, data) for n in names if not template.param(n).is_file}
    uploaded = {n: str(_value_for(template, n, data)) for n in names if template.param(n).is_file}
    uploaded.update({p.name: "x.png" for p in template.params if p.is_file and p.required})
    rendered = render(template, values, rng=random.Random(data.draw(st.integers())), uploaded=uploaded)
    ids, classes, links = _structure(template.graph)
    new_ids, new_classes, new_links = _structure(rendered.graph)
    assert new_ids == ids
    assert new_links == links
    for node_id, class_type in new_classes.items():
        if node_id in rendered.websocket_nodes and classes[node_id] in ("SaveImage", "PreviewImage"):
            assert class_type == "SaveImageWebsocket"
        else:
            assert class_type == classes[node_id]
    assert rendered.output_nodes == frozenset(template.outputs)
    json.dumps(rendered.graph)  # always serialisable


@settings(max_examples=200, deadline=None)
@given(prompt=clean_text.filter(str.strip), negative=clean_text)
def test_any_prompt_arrives_byte_for_byte(prompt: str, negative: str) -> None:
    template = TEMPLATES[FIXTURES.index("sdxl_base_refiner")]
    rendered = render(template, {"prompt": prompt, "negative": negative}, rng=random.Random(0))
    wire = json.dumps({"prompt": rendered.graph}, ensure_ascii=False).encode("utf-8")
    decoded = json.loads(wire.decode("utf-8"))["prompt"]
    for node_id in ("6", "15"):
        assert decoded[node_id]["inputs"]["text"].encode("utf-8") == prompt.encode("utf-8")
    for node_id in ("7", "16"):
        assert decoded[node_id]["inputs"]["text"] == negative
    assert _structure(decoded)[2] == _structure(template.graph)[2]
