"""`comfycord generate` and `comfycord check` as a user runs them: a subprocess against the fake ComfyUI."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


async def _cli(*args: str, backend: str, cwd: Path) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMFYUI_", "DISCORD_", "LOG_"))}
    env.update(
        {
            "COMFYUI_URLS": backend,
            "PYTHONPATH": str(ROOT),
            "WORKFLOWS_DIR": str(ROOT / "workflows"),
            "COMFYUI_TIMEOUT": "3",
        }
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _png(path: Path, colour=(250, 0, 0)) -> Path:
    Image.new("RGB", (32, 32), colour).save(path)
    return path


async def test_generate_saves_images_and_reports_json(fake_comfy, tmp_path) -> None:
    code, out, err = await _cli(
        "generate",
        "imagine",
        "--set",
        "prompt=a quiet harbour",
        "--set",
        "seed=5",
        "--out",
        str(tmp_path / "out"),
        "--json",
        backend=fake_comfy.base_url,
        cwd=tmp_path,
    )
    assert code == 0, err
    assert err == "", "no log noise from a successful CLI run"
    summary = json.loads(out)
    assert summary["status"] == "succeeded"
    assert summary["seed"] == 5
    (path,) = summary["outputs"]
    with Image.open(path) as image:
        assert image.format == "PNG"
    again = json.loads(
        (
            await _cli(
                "generate",
                "imagine",
                "--set",
                "prompt=a quiet harbour",
                "--set",
                "seed=5",
                "--out",
                str(tmp_path / "again"),
                "--json",
                backend=fake_comfy.base_url,
                cwd=tmp_path,
            )
        )[1]
    )
    assert Path(again["outputs"][0]).read_bytes() == Path(path).read_bytes(), "same seed, same image"


async def test_model_free_template_with_an_image(fake_comfy, tmp_path) -> None:
    source = _png(tmp_path / "red.png")
    code, out, err = await _cli(
        "generate",
        "invert",
        "--image",
        f"image={source}",
        "--out",
        str(tmp_path / "o"),
        backend=fake_comfy.base_url,
        cwd=tmp_path,
    )
    assert code == 0, err
    saved = next((tmp_path / "o").glob("*.png"))
    with Image.open(saved) as image:
        red, green, blue = image.convert("RGB").getpixel((0, 0))
    # 255 - 250, with ComfyUI's float32 rounding (which can give 4).
    assert red in (4, 5)
    assert (green, blue) == (255, 255)
    assert "saved" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["imagine", "--set", "prompt=x", "--set", "steps=999"], "`steps`: must be between 1 and 50"),
        (["imagine", "--set", "prompt=" + "a" * 10_000], "`prompt`"),
        (["imagine", "--set", "prompt=bad\x07bell"], "`prompt`"),
        (["imagine", "--set", "colour=blue", "--set", "prompt=x"], "`colour`"),
        (["imagine", "--set", "oops"], "must look like NAME=VALUE"),
        (["nosuch"], "no template named 'nosuch'"),
        (
            ["invert", "--image", "image=/does/not/exist.png"],
            "--image image: /does/not/exist.png does not exist",
        ),
        (["invert", "--image", "pic=/tmp/x.png"], "no image parameter named 'pic'"),
    ],
)
async def test_bad_requests_exit_2_with_a_specific_message(fake_comfy, tmp_path, args, expected) -> None:
    code, _, err = await _cli("generate", *args, backend=fake_comfy.base_url, cwd=tmp_path)
    assert code == 2
    assert expected in err


async def test_not_an_image_is_refused(fake_comfy, tmp_path) -> None:
    notes = tmp_path / "notes.png"
    notes.write_text("this is text")
    code, _, err = await _cli(
        "generate", "invert", "--image", f"image={notes}", backend=fake_comfy.base_url, cwd=tmp_path
    )
    assert code == 2
    assert "not an image" in err


async def test_prompt_syntax_arrives_verbatim(fake_comfy, tmp_path) -> None:
    tricky = '{"3": {"class_type": "Evil"}} {{placeholder}} %prompt% ${x}'
    code, _, err = await _cli(
        "generate",
        "imagine",
        "--set",
        f"prompt={tricky}",
        "--out",
        str(tmp_path),
        backend=fake_comfy.base_url,
        cwd=tmp_path,
    )
    assert code == 0, err
    graph = fake_comfy.prompt_requests[-1]["prompt"]
    assert tricky in [node["inputs"].get("text") for node in graph.values()]
    assert "Evil" not in {node["class_type"] for node in graph.values()}


async def test_execution_error_names_the_node(fake_comfy, tmp_path) -> None:
    fake_comfy.fail_node("VAEDecode", "RuntimeError", "the fake GPU melted")
    code, _, err = await _cli(
        "generate", "imagine", "--set", "prompt=x", backend=fake_comfy.base_url, cwd=tmp_path
    )
    assert code == 1
    assert "VAEDecode" in err
    assert "the fake GPU melted" in err


async def test_unreachable_backend(tmp_path) -> None:
    code, _, err = await _cli(
        "generate", "imagine", "--set", "prompt=x", backend="http://127.0.0.1:9", cwd=tmp_path
    )
    assert code == 1
    assert "could not reach ComfyUI at 127.0.0.1:9" in err


async def test_check_lists_templates_and_backend_capabilities(fake_comfy, tmp_path) -> None:
    code, out, err = await _cli(
        "check", "--backend", fake_comfy.base_url, backend=fake_comfy.base_url, cwd=tmp_path
    )
    assert code == 0, out + err
    for name in ("/imagine", "/img2img", "/inpaint", "/upscale", "/invert"):
        assert f"{name}: ok" in out
    fake_comfy.checkpoints = []
    code, out, _ = await _cli(
        "check", "--backend", fake_comfy.base_url, backend=fake_comfy.base_url, cwd=tmp_path
    )
    assert code == 1
    assert "/imagine: cannot run" in out


async def test_check_says_what_each_template_delivers(fake_comfy, tmp_path) -> None:
    code, out, err = await _cli(
        "check", "--backend", fake_comfy.base_url, backend=fake_comfy.base_url, cwd=tmp_path
    )
    assert code == 0, out + err
    assert "/pulse: animation (node 10 ('Save Animation', SaveAnimatedWEBP))" in out
    assert "/imagine: image (node 9 ('Save Image', SaveImage), websocket); batches vary by noise index" in out
    assert "/pulse: ok, delivers animation" in out


async def test_check_refuses_a_workflow_that_posts_nothing(fake_comfy, tmp_path) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    graph = {
        "1": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "2": {"class_type": "SaveLatent", "inputs": {"samples": ["1", 0], "filename_prefix": "latents/x"}},
    }
    (folder / "latent_only.json").write_text(json.dumps(graph))
    env_dir = tmp_path / "run"
    env_dir.mkdir()
    code, out, _ = await _cli_in(folder, "check", backend=fake_comfy.base_url, cwd=env_dir)
    assert code == 1
    assert "latent_only.json: [outputs]: node 2 (SaveLatent) writes nothing I can post" in out


async def test_generate_saves_an_animation(fake_comfy, tmp_path) -> None:
    code, out, err = await _cli(
        "generate",
        "pulse",
        "--image",
        f"image={_png(tmp_path / 'in.png')}",
        "--out",
        str(tmp_path / "out"),
        "--json",
        backend=fake_comfy.base_url,
        cwd=tmp_path,
    )
    assert code == 0, out + err
    [saved] = json.loads(out)["outputs"]
    assert saved.endswith(".webp")
    with Image.open(saved) as animation:
        assert animation.n_frames == 6


async def _cli_in(workflows: Path, *args: str, backend: str, cwd: Path) -> tuple[int, str, str]:
    """``_cli`` with another workflows folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMFYUI_", "DISCORD_", "LOG_"))}
    env.update({"COMFYUI_URLS": backend, "PYTHONPATH": str(ROOT), "WORKFLOWS_DIR": str(workflows)})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
