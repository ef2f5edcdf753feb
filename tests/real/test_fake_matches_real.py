"""The fake ComfyUI against a real one, side by side: the same graphs, the same client (plain aiohttp,
like the bot: feature flags first, one client id), the same normalised message sequence.

Each graph runs twice on each side and only the second run is compared: the first leaves both caches
holding the same nodes (a real server keeps whatever earlier tests left). Timestamps, prompt ids and
image bytes are left out; image formats and sizes, node order, progress values and errors are in.
"""

from __future__ import annotations

import copy
import io
import json
import random
import struct
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.jobs.template_planner import TemplatePlanner
from bot.templates import load_templates
from tests.fakes.comfyui import FakeComfyUI
from tests.real.servers import RealServer
from tests.real.support import decode, encode, pattern

UPLOAD = "comfycord-realtier-fidelity.png"


@pytest.fixture
async def fake(tmp_path: Path) -> AsyncIterator[FakeComfyUI]:
    # decode_scale 1: a VAE decodes 8 pixels per latent pixel, as on the real server.
    async with FakeComfyUI(root_dir=tmp_path / "fake", decode_scale=1, step_delay=0.01) as server:
        yield server


def _image_info(data: bytes) -> tuple[str | None, tuple[int, int]]:
    image = decode(data)
    return image.format, image.size


def _normalise(kind: str, data: dict[str, Any]) -> Any:
    if kind == "status":
        return data["status"]["exec_info"]["queue_remaining"]
    if kind in ("execution_start", "execution_success"):
        return None
    if kind == "execution_cached":
        return sorted(data["nodes"])
    if kind == "executing":
        return data["node"]
    if kind == "progress":
        return data["node"], data["value"], data["max"]
    if kind == "progress_state":
        return {n: (s["state"], float(s["value"]), float(s["max"])) for n, s in sorted(data["nodes"].items())}
    if kind == "executed":
        return data["node"], sorted((data.get("output") or {}).keys())
    if kind == "execution_error":
        first = data["exception_message"].split("\n")[0]
        return data["node_id"], data["node_type"], data["exception_type"], first, sorted(data["executed"])
    if kind == "execution_interrupted":
        return data["node_id"], data["node_type"], sorted(data["executed"])
    return data


async def capture(
    session: aiohttp.ClientSession, base: str, graph: dict[str, Any], *, interrupt_at: int | None = None
) -> list[Any]:
    """One client's view of one prompt, normalised; ``interrupt_at``: interrupt the prompt once a
    progress message reaches that value (what follows up to the end is compared, not the race)."""
    client_id = uuid.uuid4().hex
    seen: list[Any] = []
    async with session.ws_connect(base.replace("http", "ws", 1) + f"/ws?clientId={client_id}") as ws:
        await ws.send_json({"type": "feature_flags", "data": {"supports_preview_metadata": True}})
        async with session.post(base + "/prompt", json={"prompt": graph, "client_id": client_id}) as answer:
            body = await answer.json()
        if answer.status != 200:
            return [("rejected", answer.status, _rejection(body))]
        prompt_id = body["prompt_id"]
        interrupted = False
        async for message in ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                if interrupted:
                    continue
                size = struct.unpack(">I", message.data[4:8])[0]
                meta = json.loads(message.data[8 : 8 + size])
                seen.append(
                    ("image", meta["node_id"], meta["image_type"], _image_info(message.data[8 + size :]))
                )
                continue
            event = json.loads(message.data)
            kind, data = event["type"], event["data"]
            if kind == "feature_flags" or (kind == "status" and "sid" in data):
                continue
            if interrupted and kind in ("progress", "progress_state"):
                continue  # how many more steps ran before the interrupt landed is a race
            seen.append((kind, _normalise(kind, data)))
            if (
                kind == "progress"
                and interrupt_at is not None
                and data["value"] >= interrupt_at
                and not interrupted
            ):
                interrupted = True
                async with session.post(base + "/interrupt", json={"prompt_id": prompt_id}):
                    pass
            if kind == "executing" and data["node"] is None and data.get("prompt_id") == prompt_id:
                break
    return seen


def _rejection(body: dict[str, Any]) -> Any:
    error = body["error"]
    nodes = {
        node: (entry["class_type"], [(e["type"], e["message"], e["details"]) for e in entry["errors"]])
        for node, entry in body["node_errors"].items()
    }
    return error["type"], error["message"], nodes


async def _both(session, real: RealServer, fake: FakeComfyUI, graph, **options) -> tuple[list, list]:
    """Warm both caches with ``graph``, then run it again with its seeds changed; the two captures."""
    await capture(session, real.url, graph)
    await capture(session, fake.base_url, graph)
    again = _reseeded(graph)
    return await capture(session, real.url, again, **options), await capture(
        session, fake.base_url, again, **options
    )


def _reseeded(graph: dict[str, Any]) -> dict[str, Any]:
    again = copy.deepcopy(graph)
    for node in again.values():
        for key in ("seed", "noise_seed"):
            if isinstance(node["inputs"].get(key), int):
                node["inputs"][key] += 1
    return again


async def _upload(session: aiohttp.ClientSession, base: str, data: bytes) -> str:
    form = aiohttp.FormData()
    form.add_field("image", io.BytesIO(data), filename=UPLOAD, content_type="image/png")
    form.add_field("overwrite", "true")
    async with session.post(base + "/upload/image", data=form) as response:
        assert response.status == 200
        return str((await response.json())["name"])


def _graph(real_workflows: Path, template: str, values: dict[str, Any], image: str | None = None) -> dict:
    planner = TemplatePlanner(load_templates(real_workflows))
    uploads = dict.fromkeys(p.name for p in planner.templates[template].params if p.is_file)
    params = planner.validate(template, values, random.Random(5), attached=list(uploads))
    return dict(planner.plan(template, params, dict.fromkeys(uploads, image or UPLOAD)).graph)


CASES = {
    "imagine": ("imagine", {"prompt": "a lighthouse", "size": "tiny", "steps": 2, "seed": 11}),
    "img2img": ("img2img", {"prompt": "a harbour", "steps": 2, "seed": 11}),
    "upscale": ("upscale", {}),
    "invert": ("invert", {}),
    "slow": ("slow", {"steps": 3, "delay": 0.05, "seed": 11}),
    "out_of_memory": ("huge", {"seed": 11}),
    "link_type_mismatch": ("mismatch", {}),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_the_fake_sends_what_the_real_server_sends(
    case: str, servers: list[RealServer], fake: FakeComfyUI, http: aiohttp.ClientSession, real_workflows: Path
) -> None:
    real = servers[0]
    await real.wait_idle(timeout=120)
    image = encode(pattern((68, 52)))
    name = await _upload(http, real.url, image)
    assert await _upload(http, fake.base_url, image) == name
    template, values = CASES[case]
    graph = _graph(real_workflows, template, values, name)
    seen_real, seen_fake = await _both(http, real, fake, graph)
    assert seen_fake == seen_real


async def test_an_interrupt_ends_a_run_the_same_way(
    servers: list[RealServer], fake: FakeComfyUI, http: aiohttp.ClientSession, real_workflows: Path
) -> None:
    real = servers[0]
    await real.wait_idle(timeout=120)
    graph = _graph(real_workflows, "slow", {"steps": 200, "delay": 0.05, "seed": 12})
    seen_real, seen_fake = await _both(http, real, fake, graph, interrupt_at=3)
    assert seen_fake == seen_real
    assert ("execution_interrupted", ("2", "SlowSteps", [])) in seen_real, "node 1 came from the cache"
