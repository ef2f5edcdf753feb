"""comfycord doctor, run in-process: what it checks, what it says to fix, and its exit code."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot import cli
from bot.__main__ import build_parser
from bot.cli import doctor
from bot.cli.check import run_check
from bot.cli.common import EXIT_FAILED, EXIT_OK
from bot.cli.doctor import run_doctor, unreachable_fix
from bot.comfy import Endpoint
from bot.config import load_settings
from bot.errors import BackendUnavailable, OriginForbidden, UnexpectedResponse

ROOT = Path(__file__).resolve().parents[3]
WORKFLOWS = ROOT / "workflows"
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens there

try:
    from tests.fakes.comfyui import FakeComfyUI
except ImportError:  # pragma: no cover - the fake is developed alongside
    FakeComfyUI = None  # type: ignore[assignment,misc]

needs_fake = pytest.mark.skipif(
    FakeComfyUI is None, reason="tests/fakes/comfyui.FakeComfyUI is not available"
)


def token_for(app_id: int) -> str:
    return base64.b64encode(str(app_id).encode()).decode().rstrip("=") + ".GabcDE." + "z" * 38


INPAINT_CHECKPOINT = "512-inpainting-ema.safetensors"  # what the bundled /inpaint loads
UPSCALER = "RealESRGAN_x4plus.pth"  # what the bundled /upscale loads


def offer_every_model(fake: Any) -> None:
    """Make sure the fake has what every bundled template needs, whatever its defaults are."""
    fake.checkpoints = [*(m for m in fake.checkpoints if m != INPAINT_CHECKPOINT), INPAINT_CHECKPOINT]
    fake.upscale_models = [*(m for m in fake.upscale_models if m != UPSCALER), UPSCALER]


def drop_the_upscaler(fake: Any) -> None:
    offer_every_model(fake)
    fake.upscale_models = [m for m in fake.upscale_models if m != UPSCALER]


def settings_for(tmp_path: Path, urls: str = UNREACHABLE, **env: str):
    values = {
        "COMFYUI_URLS": urls,
        "DATA_DIR": str(tmp_path / "data"),
        "WORKFLOWS_DIR": str(WORKFLOWS),
        "OWNER_IDS": "1",
        "COMFYUI_TIMEOUT": "5",
        **env,
    }
    return load_settings(values, require_discord=False)


async def run(settings) -> tuple[int, str]:
    out = io.StringIO()
    code = await run_doctor(settings, out=out)
    return code, out.getvalue()


def to_fix(output: str) -> str:
    assert "To fix (" in output, output
    return output.split("To fix (", 1)[1]


# --- backends --------------------------------------------------------------------------------------------


async def test_an_unreachable_backend_fails_with_a_clear_message(tmp_path: Path) -> None:
    code, output = await run(settings_for(tmp_path))
    assert code == EXIT_FAILED
    fix = to_fix(output)
    assert "backend 127.0.0.1:9 does not answer /system_stats: connection refused or host unreachable" in fix
    assert f"start ComfyUI (with --listen if the bot runs on another machine) or correct {UNREACHABLE}" in fix
    # Everything else was still checked, and is fine.
    assert "6 template(s)" in output
    assert "is writable" in output


@pytest.fixture
async def fake_comfy(tmp_path: Path) -> AsyncIterator[Any]:
    if FakeComfyUI is None:
        pytest.skip("tests/fakes/comfyui.FakeComfyUI is not available")
    fake = FakeComfyUI(root_dir=tmp_path / "fake-comfyui")
    await fake.start()
    yield fake
    await fake.stop()


@needs_fake
async def test_all_good_against_a_backend_with_every_model(tmp_path: Path, fake_comfy: Any) -> None:
    offer_every_model(fake_comfy)
    settings = settings_for(tmp_path, fake_comfy.base_url, DISCORD_TOKEN=token_for(1234567890123456789))
    code, output = await run(settings)
    assert code == EXIT_OK, output
    assert "ComfyUI 0.3.64" in output
    assert "device cpu (cpu" in output
    assert "websocket /ws opens" in output
    assert "can run /imagine, /img2img, /inpaint, /invert, /pulse, /upscale" in output
    assert "application 1234567890123456789" in output
    assert "All good" in output
    assert "To fix" not in output


@needs_fake
async def test_templates_no_backend_can_run_are_problems(tmp_path: Path, fake_comfy: Any) -> None:
    drop_the_upscaler(fake_comfy)
    code, output = await run(settings_for(tmp_path, fake_comfy.base_url))
    assert code == EXIT_FAILED
    fix = to_fix(output)
    assert "no backend can run /upscale: " in fix
    assert UPSCALER in fix
    assert "no backend can run /imagine" not in fix
    # The token is only a warning: doctor works without it.
    assert "DISCORD_TOKEN is not set" in output.split("To fix", 1)[0]
    assert "DISCORD_TOKEN" not in fix


@needs_fake
async def test_a_template_only_some_backends_run_is_a_warning(tmp_path: Path, fake_comfy: Any) -> None:
    offer_every_model(fake_comfy)
    async with FakeComfyUI(root_dir=tmp_path / "second") as second:
        drop_the_upscaler(second)
        urls = f"{fake_comfy.base_url},{second.base_url}"
        code, output = await run(settings_for(tmp_path, urls))
    assert code == EXIT_OK, output
    assert f"/upscale runs on {fake_comfy.base_url.split('//')[1]} only" in output


def test_fixes_name_the_usual_traps(monkeypatch) -> None:
    local = Endpoint("http://localhost:8188")
    monkeypatch.setattr(doctor, "_in_container", lambda: True)
    fix = unreachable_fix(local, BackendUnavailable(local.name, "GET /system_stats: ClientConnectorError"))
    assert "host.docker.internal" in fix
    assert "--add-host=host.docker.internal:host-gateway" in fix
    monkeypatch.setattr(doctor, "_in_container", lambda: False)
    fix = unreachable_fix(local, BackendUnavailable(local.name, "GET /system_stats: ClientConnectorError"))
    assert "host.docker.internal" not in fix
    assert "Origin" in unreachable_fix(local, OriginForbidden("/system_stats"))
    assert "COMFYUI_AUTH_" in unreachable_fix(local, UnexpectedResponse("/system_stats", 401, ""))


SLOW_WORKFLOW = {
    "1": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
    "2": {
        "class_type": "SlowSteps",
        "inputs": {"samples": ["1", 0], "steps": 4, "delay": 0.0, "seed": 0, "send_previews": True},
    },
    "3": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["2", 1]}},
}
BROKEN_PACK = "custom_nodes/comfycord_slow_pack"
BROKEN_REASON = "No module named 'onnxruntime'"


def with_slow_template(tmp_path: Path) -> Path:
    """The bundled workflows plus /slow, which needs the SlowSteps custom node."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    for source in WORKFLOWS.iterdir():
        if source.suffix in (".json", ".toml"):
            (folder / source.name).write_text(source.read_text())
    (folder / "slow.json").write_text(json.dumps(SLOW_WORKFLOW))
    return folder


@needs_fake
async def test_a_custom_node_that_failed_to_import_is_named_with_the_servers_reason(
    tmp_path: Path, fake_comfy: Any
) -> None:
    """Learned from a real ComfyUI: a pack that fails to import just leaves its node types out of
    /object_info; only the server's log (/internal/logs) says why."""
    offer_every_model(fake_comfy)
    fake_comfy.fail_import(BROKEN_PACK, BROKEN_REASON, ("SlowSteps",))
    folder = with_slow_template(tmp_path)
    code, output = await run(settings_for(tmp_path, fake_comfy.base_url, WORKFLOWS_DIR=str(folder)))
    assert code == EXIT_FAILED
    fix = to_fix(output)
    assert "no backend can run /slow: " in fix
    assert "node type SlowSteps is not installed" in fix
    assert "install the custom nodes that provide SlowSteps" in fix
    assert "restart ComfyUI" in fix
    assert f"{BROKEN_PACK} ({BROKEN_REASON})" in fix
    assert f"custom nodes failed to import (their node types are missing): {BROKEN_PACK}" in output
    assert "no backend can run /imagine" not in fix


@needs_fake
async def test_a_missing_custom_node_without_a_logged_failure_gets_the_plain_fix(
    tmp_path: Path, fake_comfy: Any
) -> None:
    offer_every_model(fake_comfy)
    folder = with_slow_template(tmp_path)
    (folder / "slow.json").write_text(json.dumps(SLOW_WORKFLOW).replace("SlowSteps", "NoSuchNodeAnywhere"))
    _, output = await run(settings_for(tmp_path, fake_comfy.base_url, WORKFLOWS_DIR=str(folder)))
    fix = to_fix(output)
    assert "install the custom nodes that provide NoSuchNodeAnywhere" in fix
    assert "failed to import" not in output


@needs_fake
async def test_a_missing_model_says_to_refresh_not_to_install_nodes(tmp_path: Path, fake_comfy: Any) -> None:
    drop_the_upscaler(fake_comfy)
    _, output = await run(settings_for(tmp_path, fake_comfy.base_url))
    fix = to_fix(output)
    assert "install the missing models on a backend (then refresh ComfyUI" in fix
    assert "custom nodes" not in fix


@needs_fake
@pytest.mark.parametrize(("device", "warned"), [("cpu", True), ("cuda", False)])
async def test_a_backend_computing_on_the_cpu_is_a_warning(
    tmp_path: Path, fake_comfy: Any, device: str, warned: bool
) -> None:
    offer_every_model(fake_comfy)
    fake_comfy.device = device
    code, output = await run(settings_for(tmp_path, fake_comfy.base_url))
    assert code == EXIT_OK, output
    assert ("computes on the CPU" in output) is warned


@needs_fake
@pytest.mark.parametrize(
    ("previews", "live_previews", "expected"),
    [
        (False, "true", "sends no live previews"),
        (False, "false", None),
        (True, "true", "live previews on (--preview-method auto)"),
    ],
)
async def test_a_backend_started_without_previews_is_a_warning_when_the_bot_wants_them(
    tmp_path: Path, fake_comfy: Any, previews: bool, live_previews: str, expected: str | None
) -> None:
    offer_every_model(fake_comfy)
    fake_comfy.previews = previews
    settings = settings_for(tmp_path, fake_comfy.base_url, LIVE_PREVIEWS=live_previews)
    code, output = await run(settings)
    assert code == EXIT_OK, output
    if expected is None:
        assert "preview" not in output.lower()
    else:
        assert expected in output


@needs_fake
async def test_check_backend_names_the_import_failure_under_the_template(
    tmp_path: Path, fake_comfy: Any, capsys
) -> None:
    offer_every_model(fake_comfy)
    fake_comfy.fail_import(BROKEN_PACK, BROKEN_REASON, ("SlowSteps",))
    folder = with_slow_template(tmp_path)
    code = await run_check(settings_for(tmp_path, WORKFLOWS_DIR=str(folder)), [fake_comfy.base_url])
    out = capsys.readouterr().out
    assert code == EXIT_FAILED
    slow = out.split("/slow: cannot run", 1)[1]
    assert "node type SlowSteps is not installed" in slow
    assert f"the server's log: {BROKEN_PACK} failed to import ({BROKEN_REASON})" in slow
    assert "/imagine: ok" in out


# --- token, data dir, workflows ---------------------------------------------------------------------------


async def test_a_token_whose_first_part_is_not_an_id_is_a_problem(tmp_path: Path) -> None:
    bad = "Zm9vYmFyYmF6cXV4cXV1eHF1dXg" + ".GabcDE." + "z" * 38
    _, output = await run(settings_for(tmp_path, DISCORD_TOKEN=bad))
    assert "DISCORD_TOKEN has three parts but the first does not decode" in to_fix(output)
    assert bad not in output


async def test_a_data_dir_that_is_a_file_is_a_problem(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    _, output = await run(settings_for(tmp_path))
    assert f"DATA_DIR {blocker} is a file, not a folder" in to_fix(output)


async def test_a_data_dir_that_cannot_be_created_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    settings = settings_for(tmp_path, DATA_DIR=str(tmp_path / "file" / "data"))
    _, output = await run(settings)
    assert "does not exist and cannot be created" in to_fix(output)


async def test_the_data_dir_is_created_and_left_clean(tmp_path: Path) -> None:
    await run(settings_for(tmp_path))
    assert list((tmp_path / "data").iterdir()) == []


async def test_workflow_problems_are_listed(tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "broken.json").write_text(json.dumps({"nodes": [], "links": []}))
    (folder / "orphan.toml").write_text("[command]\nname = 'orphan'\n")
    _, output = await run(settings_for(tmp_path, WORKFLOWS_DIR=str(folder)))
    fix = to_fix(output)
    assert "broken.json" in fix
    assert "orphan.toml: manifest without a workflow" in fix


async def test_an_empty_workflows_folder_is_a_problem(tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    _, output = await run(settings_for(tmp_path, WORKFLOWS_DIR=str(folder)))
    assert "no workflow templates" in to_fix(output)


def test_doctor_is_a_registered_command(tmp_path: Path, capsys) -> None:
    args = build_parser().parse_args(["doctor"])
    assert cli.dispatch("doctor", args, settings_for(tmp_path)) == EXIT_FAILED
    assert "does not answer /system_stats" in capsys.readouterr().out
