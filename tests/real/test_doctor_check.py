"""``comfycord check --backend`` and ``doctor`` against real servers, and what they learned there."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.server_notes import import_failures, preview_method, runs_on_cpu
from tests.e2e.harness import private_reply
from tests.real import workflows
from tests.real.servers import RealServer
from tests.real.support import run_cli
from tests.real.workflows import EXTRA_TEMPLATES

TEMPLATES = ["huge", "imagine", "img2img", "inpaint", "invert", "maskview", "mismatch", "slow", "upscale"]


@pytest.fixture
def with_missing_node(tmp_path: Path) -> Path:
    """The tier's workflows plus /needsnode: its checkpoint exists on the servers, its custom node not."""
    return workflows.build(tmp_path / "workflows", extra=(*EXTRA_TEMPLATES, "needsnode"))


async def test_check_backend_finds_every_template_runnable_on_every_server(
    servers: list[RealServer], real_workflows: Path, tmp_path: Path
) -> None:
    urls = [s.url for s in servers]
    backends = [arg for url in urls for arg in ("--backend", url)]
    code, out, err = await run_cli(
        "check", *backends, backends=urls, workflows_dir=real_workflows, cwd=tmp_path
    )
    assert code == 0, out + err
    for server in servers:
        section = out.split(f"backend {server.name}:", 1)[1].split("\nbackend ", 1)[0]
        assert [line.strip() for line in section.strip().splitlines()] == [f"/{t}: ok" for t in TEMPLATES]


async def test_doctor_passes_against_the_real_servers_and_says_how_they_run(
    servers: list[RealServer], real_workflows: Path, tmp_path: Path
) -> None:
    code, out, err = await run_cli(
        "doctor", backends=[s.url for s in servers], workflows_dir=real_workflows, cwd=tmp_path
    )
    assert code == 0, out + err
    assert "All good" in out
    for server in servers:
        stats = await server.get("/system_stats")
        assert f"ComfyUI {stats['system']['comfyui_version']}" in out
        assert ("computes on the CPU" in out) is runs_on_cpu(stats), "the device warning matches the server"
        method = preview_method(stats)
        if method and method != "none":
            assert f"live previews on (--preview-method {method})" in out
    assert out.count("websocket /ws opens") == len(servers)
    assert out.count("can run /" + ", /".join(TEMPLATES)) == len(servers)


async def test_a_template_whose_model_exists_but_whose_custom_node_is_missing(
    servers: list[RealServer], with_missing_node: Path, tmp_path: Path
) -> None:
    urls = [s.url for s in servers]
    code, out, _ = await run_cli("doctor", backends=urls, workflows_dir=with_missing_node, cwd=tmp_path)
    assert code == 1
    fix = out.split("To fix (", 1)[1]
    assert "no backend can run /needsnode" in fix
    assert "node type ComfycordRealtierAbsentSampler is not installed" in fix
    assert "v1-5-pruned-emaonly" not in fix, "the checkpoint is there: only the node is missing"
    assert "install the custom nodes that provide ComfycordRealtierAbsentSampler" in fix
    assert "restart ComfyUI" in fix
    assert "no backend can run /imagine" not in fix
    code, out, _ = await run_cli(
        "check", "--backend", urls[0], backends=urls, workflows_dir=with_missing_node, cwd=tmp_path
    )
    assert code == 1
    needs = out.split("/needsnode: cannot run", 1)[1].split("\n  /", 1)[0]
    assert "ComfycordRealtierAbsentSampler is not installed" in needs
    assert "ckpt_name" not in needs


async def test_the_real_servers_log_is_read_for_import_failures(servers: list[RealServer]) -> None:
    """Whatever this build failed to import (e.g. audio nodes without torchaudio), doctor reads it in
    the real server's own wording."""
    for server in servers:
        raw = await server.get("/internal/logs/raw")
        assert isinstance(raw["entries"], list)
        logged = [e["m"] for e in raw["entries"] if "module for custom nodes:" in e["m"]]
        found = import_failures(raw["entries"])
        assert len(found) == len(logged)
        for failure in found:
            assert any(failure.module in message and failure.reason in message for message in logged)


async def test_a_member_asking_for_a_template_no_server_can_run_is_told_why(
    real_bot, with_missing_node: Path
) -> None:
    """Nothing is queued for a template no server can run (a custom node missing everywhere): the member
    is told why at once, privately, and nothing is charged."""
    bot = await real_bot(env={"WORKFLOWS_DIR": str(with_missing_node)})
    record = await bot.fake.slash("needsnode", {"prompt": "a lighthouse"})
    reply = await private_reply(bot.fake, record, timeout=30)
    assert "ComfycordRealtierAbsentSampler is not installed" in reply.content, reply.content
    assert "nothing was queued" in reply.content, reply.content
    assert await bot.engine.jobs.count_waiting() == 0
