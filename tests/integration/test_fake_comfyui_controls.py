"""The fake ComfyUI's knobs, lifecycle and the node graphs the project's templates use."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import struct
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from PIL import Image

from tests.fakes.comfyui import FakeComfyUI

# fake_comfy / fake_comfy_factory come from tests/conftest.py (tests/fakes/comfyui/fixtures.py).

CKPT = "v1-5-pruned-emaonly.safetensors"


class Run:
    """Everything one websocket client saw for one prompt."""

    def __init__(self, prompt_id: str, messages: list[dict[str, Any]], frames: list[bytes]) -> None:
        self.prompt_id = prompt_id
        self.messages = messages
        self.frames = frames

    def types(self) -> list[str]:
        return [m["type"] for m in self.messages]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m["data"] for m in self.messages if m["type"] == kind]

    def images(self, image_type: int) -> list[bytes]:
        """Payloads of legacy event-1 frames of one image type (1 JPEG, 2 PNG)."""
        return [f[8:] for f in self.frames if struct.unpack(">II", f[:8]) == (1, image_type)]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def post_prompt(
    session: aiohttp.ClientSession, fake: FakeComfyUI, body: dict[str, Any]
) -> dict[str, Any]:
    async with session.post(fake.base_url + "/prompt", json=body) as response:
        assert response.status == 200, await response.text()
        result: dict[str, Any] = await response.json()
        return result


async def run_prompt(
    session: aiohttp.ClientSession, fake: FakeComfyUI, prompt: dict[str, Any], *, metadata: bool = False
) -> Run:
    """Connect a fresh client, submit `prompt` and collect until `executing {node: null}`."""
    client_id = uuid.uuid4().hex
    async with session.ws_connect(fake.ws_url(client_id)) as ws:
        if metadata:
            await ws.send_json({"type": "feature_flags", "data": {"supports_preview_metadata": True}})
        prompt_id = (await post_prompt(session, fake, {"prompt": prompt, "client_id": client_id}))[
            "prompt_id"
        ]
        messages: list[dict[str, Any]] = []
        frames: list[bytes] = []
        async with asyncio.timeout(10):
            while True:
                message = await ws.receive()
                if message.type == aiohttp.WSMsgType.BINARY:
                    frames.append(message.data)
                    continue
                data = json.loads(message.data)
                messages.append(data)
                if data["type"] == "executing" and data["data"] == {"node": None, "prompt_id": prompt_id}:
                    return Run(prompt_id, messages, frames)


async def upload(session: aiohttp.ClientSession, fake: FakeComfyUI, name: str, data: bytes) -> dict[str, Any]:
    form = aiohttp.FormData()
    form.add_field("image", io.BytesIO(data), filename=name, content_type="image/png")
    form.add_field("overwrite", "true")
    async with session.post(fake.base_url + "/upload/image", data=form) as response:
        assert response.status == 200
        result: dict[str, Any] = await response.json()
        return result


def png(size: tuple[int, int], colour: tuple[int, ...] = (200, 40, 90), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def txt2img(
    seed: int = 1, steps: int = 4, width: int = 512, height: int = 512, batch: int = 1
) -> dict[str, Any]:
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CKPT}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["4", 1]}},
        "5": {
            "class_type": "EmptyLatentImage",
            "inputs": {"width": width, "height": height, "batch_size": batch},
        },
        "3": {
            "class_type": "KSampler",
            "inputs": {
                "seed": seed,
                "steps": steps,
                "cfg": 7.0,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1.0,
                "model": ["4", 0],
                "positive": ["6", 0],
                "negative": ["7", 0],
                "latent_image": ["5", 0],
            },
        },
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["8", 0]}},
    }


def flux() -> dict[str, Any]:
    return {
        "10": {
            "class_type": "UNETLoader",
            "inputs": {"unet_name": "flux1-dev.safetensors", "weight_dtype": "default"},
        },
        "11": {
            "class_type": "DualCLIPLoader",
            "inputs": {
                "clip_name1": "t5xxl_fp16.safetensors",
                "clip_name2": "clip_l.safetensors",
                "type": "flux",
            },
        },
        "12": {"class_type": "VAELoader", "inputs": {"vae_name": "ae.safetensors"}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse", "clip": ["11", 0]}},
        "26": {"class_type": "FluxGuidance", "inputs": {"conditioning": ["6", 0], "guidance": 3.5}},
        "22": {"class_type": "BasicGuider", "inputs": {"model": ["10", 0], "conditioning": ["26", 0]}},
        "25": {"class_type": "RandomNoise", "inputs": {"noise_seed": 5}},
        "16": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "17": {
            "class_type": "BasicScheduler",
            "inputs": {"model": ["10", 0], "scheduler": "simple", "steps": 3, "denoise": 1.0},
        },
        "27": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 256, "height": 192, "batch_size": 1}},
        "13": {
            "class_type": "SamplerCustomAdvanced",
            "inputs": {
                "noise": ["25", 0],
                "guider": ["22", 0],
                "sampler": ["16", 0],
                "sigmas": ["17", 0],
                "latent_image": ["27", 0],
            },
        },
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["13", 0], "vae": ["12", 0]}},
        "9": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["8", 0]}},
    }


def img2img(image: str) -> dict[str, Any]:
    graph = txt2img(steps=3)
    del graph["5"]
    graph["1"] = {"class_type": "LoadImage", "inputs": {"image": image}}
    graph["2"] = {"class_type": "VAEEncode", "inputs": {"pixels": ["1", 0], "vae": ["4", 2]}}
    graph["3"]["inputs"].update(latent_image=["2", 0], denoise=0.6)
    return graph


def inpaint(image: str) -> dict[str, Any]:
    graph = img2img(image)
    graph["2"] = {
        "class_type": "VAEEncodeForInpaint",
        "inputs": {"pixels": ["1", 0], "vae": ["4", 2], "mask": ["1", 1], "grow_mask_by": 6},
    }
    graph["20"] = {"class_type": "LoadImageMask", "inputs": {"image": image, "channel": "alpha"}}
    graph["21"] = {"class_type": "SetLatentNoiseMask", "inputs": {"samples": ["2", 0], "mask": ["20", 0]}}
    graph["3"]["inputs"]["latent_image"] = ["21", 0]
    return graph


def sdxl_refiner() -> dict[str, Any]:
    graph = txt2img(steps=5, width=1024, height=1024)
    graph["4"]["inputs"]["ckpt_name"] = "sd_xl_base_1.0.safetensors"
    graph["40"] = {
        "class_type": "CheckpointLoader",
        "inputs": {"config_name": "v1-inference.yaml", "ckpt_name": "sd_xl_refiner_1.0.safetensors"},
    }
    graph["41"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox", "clip": ["40", 1]}}
    graph["42"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["40", 1]}}
    common = {"cfg": 7.0, "sampler_name": "euler", "scheduler": "normal", "steps": 5}
    graph["3"] = {
        "class_type": "KSamplerAdvanced",
        "inputs": {
            **common,
            "model": ["4", 0],
            "add_noise": "enable",
            "noise_seed": 9,
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
            "start_at_step": 0,
            "end_at_step": 3,
            "return_with_leftover_noise": "enable",
        },
    }
    graph["43"] = {
        "class_type": "KSamplerAdvanced",
        "inputs": {
            **common,
            "model": ["40", 0],
            "add_noise": "disable",
            "noise_seed": 9,
            "positive": ["41", 0],
            "negative": ["42", 0],
            "latent_image": ["3", 0],
            "start_at_step": 3,
            "end_at_step": 10000,
            "return_with_leftover_noise": "disable",
        },
    }
    graph["8"]["inputs"]["samples"] = ["43", 0]
    return graph


def lora_upscale() -> dict[str, Any]:
    graph = txt2img(width=256, height=256, steps=2)
    graph["30"] = {
        "class_type": "LoraLoader",
        "inputs": {
            "model": ["4", 0],
            "clip": ["4", 1],
            "lora_name": "pixel_art.safetensors",
            "strength_model": 0.8,
            "strength_clip": 1.0,
        },
    }
    graph["3"]["inputs"]["model"] = ["30", 0]
    graph["6"]["inputs"]["clip"] = ["30", 1]
    graph["31"] = {"class_type": "UpscaleModelLoader", "inputs": {"model_name": "4x-UltraSharp.pth"}}
    graph["32"] = {
        "class_type": "ImageUpscaleWithModel",
        "inputs": {"upscale_model": ["31", 0], "image": ["8", 0]},
    }
    graph["33"] = {
        "class_type": "ImageScaleBy",
        "inputs": {"image": ["32", 0], "upscale_method": "bicubic", "scale_by": 0.5},
    }
    graph["34"] = {
        "class_type": "ImageScale",
        "inputs": {
            "image": ["33", 0],
            "upscale_method": "area",
            "width": 48,
            "height": 0,
            "crop": "disabled",
        },
    }
    graph["9"]["inputs"]["images"] = ["34", 0]
    return graph


async def test_txt2img_reports_steps_and_is_deterministic(
    fake_comfy: FakeComfyUI, fake_comfy_factory: Callable[..., Any], session: aiohttp.ClientSession
) -> None:
    first = await run_prompt(session, fake_comfy, txt2img(seed=42, steps=4, batch=2))
    assert first.of("execution_success")
    assert [(p["node"], p["value"], p["max"]) for p in first.of("progress")] == [
        *[("3", step, 4) for step in range(1, 5)],
        ("9", 0, 2),
        ("9", 1, 2),
    ]
    previews, outputs = first.images(1), first.images(2)
    assert [size_of(p) for p in previews] == [(512, 512)] * 4
    assert [size_of(o) for o in outputs] == [(64, 64)] * 2
    assert outputs[0] != outputs[1]

    # Same seed again: everything but SaveImageWebsocket is cached and the PNG bytes are identical.
    again = await run_prompt(session, fake_comfy, txt2img(seed=42, steps=4, batch=2))
    assert sorted(again.of("execution_cached")[0]["nodes"]) == ["3", "4", "5", "6", "7", "8"]
    assert again.images(2) == outputs
    other = await fake_comfy_factory()
    assert (await run_prompt(session, other, txt2img(seed=42, steps=4, batch=2))).images(2) == outputs
    changed = await run_prompt(session, fake_comfy, txt2img(seed=43, steps=4, batch=2))
    assert changed.images(2) != outputs


async def test_previews_can_be_turned_off_and_use_event_4_for_metadata_clients(
    fake_comfy: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    fake_comfy.previews = False
    quiet = await run_prompt(session, fake_comfy, txt2img(steps=3))
    assert len(quiet.of("progress")) == 4
    assert quiet.images(1) == []
    assert len(quiet.images(2)) == 1

    fake_comfy.previews = True
    fake_comfy.preview_size = 64
    rich = await run_prompt(session, fake_comfy, txt2img(seed=2, steps=3), metadata=True)
    kinds = [struct.unpack(">I", f[:4])[0] for f in rich.frames]
    assert kinds == [4, 4, 4, 4]
    metadata = [json.loads(f[8 : 8 + struct.unpack(">I", f[4:8])[0]]) for f in rich.frames]
    assert [m["image_type"] for m in metadata] == ["image/jpeg"] * 3 + ["image/png"]
    assert {m["prompt_id"] for m in metadata} == {rich.prompt_id}


@pytest.mark.parametrize(
    ("graph", "sampler_steps", "output_size"),
    [
        (lambda: flux(), [("13", 3)], (32, 24)),
        (lambda: img2img("in.png"), [("3", 3)], (8, 8)),
        (lambda: inpaint("in.png"), [("3", 3)], (8, 8)),
        (lambda: sdxl_refiner(), [("3", 3), ("43", 2)], (128, 128)),
        (lambda: lora_upscale(), [("3", 2)], (48, 48)),
    ],
    ids=["flux", "img2img", "inpaint", "sdxl_refiner", "lora_upscale"],
)
async def test_template_graphs_run(
    fake_comfy: FakeComfyUI,
    session: aiohttp.ClientSession,
    graph: Callable[[], dict[str, Any]],
    sampler_steps: list[tuple[str, int]],
    output_size: tuple[int, int],
) -> None:
    await upload(session, fake_comfy, "in.png", png((64, 64), (10, 200, 30, 128), "RGBA"))
    run = await run_prompt(session, fake_comfy, graph())
    assert run.of("execution_success"), run.of("execution_error")
    ticks = [(p["node"], p["max"]) for p in run.of("progress") if p["node"] != "9"]
    assert sorted(set(ticks)) == sorted(sampler_steps)
    assert len(ticks) == sum(steps for _, steps in sampler_steps)
    assert [size_of(image) for image in run.images(2)] == [output_size]


async def test_fail_next_prompts_answers_html_500(
    fake_comfy: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    fake_comfy.fail_next_prompts = 2
    for _ in range(2):
        async with session.post(fake_comfy.base_url + "/prompt", json={"prompt": txt2img()}) as response:
            assert response.status == 500
            assert response.content_type == "text/html"
    result = await post_prompt(session, fake_comfy, {"prompt": txt2img()})
    assert result["number"] == 0
    await fake_comfy.wait_idle()


async def test_fail_node_raises_at_runtime(fake_comfy: FakeComfyUI, session: aiohttp.ClientSession) -> None:
    await run_prompt(session, fake_comfy, txt2img())  # cached KSampler output must not hide the failure
    fake_comfy.fail_node("KSampler", "torch.OutOfMemoryError", "CUDA out of memory", times=1)
    failed = await run_prompt(session, fake_comfy, txt2img())
    [error] = failed.of("execution_error")
    assert (error["node_id"], error["node_type"]) == ("3", "KSampler")
    assert (error["exception_type"], error["exception_message"]) == (
        "torch.OutOfMemoryError",
        "CUDA out of memory\n",
    )
    assert "execution_success" not in failed.types()
    entry = fake_comfy.history[failed.prompt_id]
    assert entry["status"]["status_str"] == "error"
    assert entry["status"]["completed"] is False
    assert (await run_prompt(session, fake_comfy, txt2img())).of("execution_success")


async def test_drop_websockets_closes_every_socket(
    fake_comfy: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    async with (
        session.ws_connect(fake_comfy.ws_url("a")) as first,
        session.ws_connect(fake_comfy.ws_url("b")) as second,
    ):
        for ws in (first, second):
            assert (await ws.receive_json())["type"] == "status"
        await fake_comfy.drop_websockets()
        assert fake_comfy.client_ids == []
        for ws in (first, second):
            message = await ws.receive(timeout=5)
            assert message.type in (
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.ERROR,
                aiohttp.WSMsgType.CLOSE,
            )


async def test_restart_keeps_port_and_optionally_history(
    fake_comfy: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    port = fake_comfy.port
    done = await run_prompt(session, fake_comfy, txt2img(steps=1))
    fake_comfy.step_delay = 0.05
    running = await post_prompt(session, fake_comfy, {"prompt": txt2img(seed=7, steps=200)})
    pending = await post_prompt(session, fake_comfy, {"prompt": txt2img(seed=8, steps=1)})
    async with asyncio.timeout(5):
        while fake_comfy.queue_remaining != 2 or not fake_comfy.executor.running:
            await asyncio.sleep(0.005)

    await fake_comfy.restart(keep_history=True)
    assert fake_comfy.port == port
    assert fake_comfy.queue_remaining == 0
    assert list(fake_comfy.history) == [done.prompt_id]
    assert fake_comfy.executions[-1][0::3] == (running["prompt_id"], "lost")
    assert pending["prompt_id"] not in {record.prompt_id for record in fake_comfy.executions}

    fake_comfy.step_delay = 0
    again = await run_prompt(session, fake_comfy, txt2img(steps=1))
    assert again.of("execution_cached")[0]["nodes"] == []  # caches do not survive a restart
    assert fake_comfy.history[again.prompt_id]["prompt"][0] == 0  # the counter restarted

    await fake_comfy.restart()
    async with session.get(fake_comfy.base_url + "/history") as response:
        assert await response.json() == {}


async def test_executions_are_sequential(fake_comfy: FakeComfyUI, session: aiohttp.ClientSession) -> None:
    fake_comfy.step_delay = 0.002
    ids = [
        (await post_prompt(session, fake_comfy, {"prompt": txt2img(seed=s, steps=3)}))["prompt_id"]
        for s in range(3)
    ]
    await fake_comfy.wait_idle()
    records = fake_comfy.executions
    assert [r.prompt_id for r in records] == ids
    assert all(r.outcome == "success" and r.started_at <= r.ended_at for r in records)
    assert all(before.ended_at <= after.started_at for before, after in itertools.pairwise(records))


async def test_upload_limit_is_live(fake_comfy: FakeComfyUI, session: aiohttp.ClientSession) -> None:
    fake_comfy.max_upload_size = 2048
    fake_comfy.upload_delay = 0.01
    async with session.get(fake_comfy.base_url + "/features") as response:
        assert await response.json() == {"supports_preview_metadata": True, "max_upload_size": 2048.0}
    form = aiohttp.FormData()
    form.add_field("image", io.BytesIO(b"x" * 4096), filename="big.png", content_type="image/png")
    async with session.post(fake_comfy.base_url + "/upload/image", data=form) as response:
        assert response.status == 413
        assert await response.text() == "Maximum request body size 2048 exceeded."
    assert (await upload(session, fake_comfy, "small.png", png((4, 4))))["name"] == "small.png"


async def test_model_lists_drive_object_info_and_validation(
    fake_comfy: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    fake_comfy.checkpoints = ["only.safetensors"]
    async with session.get(fake_comfy.base_url + "/api/object_info/CheckpointLoaderSimple") as response:
        info = await response.json()
    assert info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0] == ["only.safetensors"]
    async with session.post(fake_comfy.base_url + "/prompt", json={"prompt": txt2img()}) as response:
        assert response.status == 400
        body = await response.json()
    [error] = body["node_errors"]["4"]["errors"]
    assert error["type"] == "value_not_in_list"
    assert error["details"] == f"ckpt_name: '{CKPT}' not in ['only.safetensors']"


# --- what the real tier taught (tests/real) -------------------------------------------------------------


async def test_a_node_module_that_failed_to_import_is_absent_and_the_log_says_why(
    fake_comfy: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    fake_comfy.fail_import(
        "custom_nodes/comfycord_broken_pack", "No module named 'onnxruntime'", ("SlowSteps",)
    )
    async with session.get(fake_comfy.base_url + "/object_info") as response:
        info = await response.json()
    assert "SlowSteps" not in info
    assert "EmptyLatentImage" in info
    async with session.get(fake_comfy.base_url + "/object_info/SlowSteps") as response:
        assert await response.json() == {}
    graph = {
        "1": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "2": {
            "class_type": "SlowSteps",
            "inputs": {"samples": ["1", 0], "steps": 1, "delay": 0.0, "seed": 0, "send_previews": False},
        },
        "3": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["2", 1]}},
    }
    async with session.post(fake_comfy.base_url + "/prompt", json={"prompt": graph}) as response:
        assert response.status == 400
        error = (await response.json())["error"]
    assert error["type"] == "invalid_prompt"
    assert error["message"] == "Cannot execute because node SlowSteps does not exist."
    # The server's in-memory log, as the real one words it (raw entries and one string).
    async with session.get(fake_comfy.base_url + "/internal/logs/raw") as response:
        raw = await response.json()
    messages = [e["m"] for e in raw["entries"]]
    assert raw["size"] == {"cols": 80, "rows": 24}
    root = str(fake_comfy.storage.root)
    assert (
        f"Cannot import {root}/custom_nodes/comfycord_broken_pack module for custom nodes: "
        "No module named 'onnxruntime'\n"
    ) in messages
    assert f"   0.0 seconds (IMPORT FAILED): {root}/custom_nodes/comfycord_broken_pack\n" in messages
    assert all(e["t"][:4].isdigit() and "T" in e["t"] for e in raw["entries"])
    async with session.get(fake_comfy.base_url + "/internal/logs") as response:
        text = await response.json()
    assert isinstance(text, str)
    assert "(IMPORT FAILED)" in text
    async with session.get(fake_comfy.base_url + "/api/internal/logs") as response:
        assert response.status == 404, "internal routes have no /api twin"


@pytest.mark.parametrize(("previews", "device"), [(True, "cpu"), (False, "cuda")])
async def test_system_stats_say_how_the_server_was_started(
    fake_comfy_factory: Callable[..., Any], session: aiohttp.ClientSession, previews: bool, device: str
) -> None:
    fake = await fake_comfy_factory(previews=previews, device=device)
    async with session.get(fake.base_url + "/system_stats") as response:
        stats = await response.json()
    argv = stats["system"]["argv"]
    assert ("--preview-method" in argv) is previews, "no previews unless started with a preview method"
    assert ("--cpu" in argv) is (device == "cpu")
    (found,) = stats["devices"]
    assert found["type"] == device


async def test_a_latent_bigger_than_the_machine_fails_like_a_real_cpu_server(
    fake_comfy: FakeComfyUI, session: aiohttp.ClientSession
) -> None:
    """Seen on the real server (tests/real/extra_workflows/huge.json): torch cannot allocate 256 GiB."""
    prompt = {
        "1": {
            "class_type": "EmptyLatentImage",
            "inputs": {"width": 16384, "height": 16384, "batch_size": 4096},
        },
        "2": {
            "class_type": "SlowSteps",
            "inputs": {"samples": ["1", 0], "steps": 1, "delay": 0.0, "seed": 0, "send_previews": False},
        },
        "3": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["2", 1]}},
    }
    run = await run_prompt(session, fake_comfy, prompt)
    (error,) = run.of("execution_error")
    assert (error["node_id"], error["node_type"], error["exception_type"]) == (
        "1",
        "EmptyLatentImage",
        "RuntimeError",
    )
    assert error["exception_message"] == (
        "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
        "you tried to allocate 274877906944 bytes. Error code 12 (Cannot allocate memory)\n"
    )
    assert error["current_inputs"] == {"width": [16384], "height": [16384], "batch_size": [4096]}
    assert error["executed"] == []
    assert "execution_success" not in run.types()
    # A batch that fits still runs.
    prompt["1"]["inputs"].update(width=512, height=512, batch_size=4)
    assert "execution_success" in (await run_prompt(session, fake_comfy, prompt)).types()
