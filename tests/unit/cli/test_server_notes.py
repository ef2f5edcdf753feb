"""Reading a ComfyUI's start-up facts: its log's import failures, its device, its preview method."""

from __future__ import annotations

from bot.cli.server_notes import (
    ImportFailure,
    import_failures,
    missing_node_types,
    preview_method,
    runs_on_cpu,
)

# Entries as a real ComfyUI 0.3.64 served them on /internal/logs/raw (a build with two broken packs).
REAL_ENTRIES = [
    {
        "t": "2026-12-02T11:33:07.223920",
        "m": "Cannot import /srv/comfy/comfy_extras/nodes_audio.py module "
        "for custom nodes: No module named 'torchaudio'\n",
    },
    {
        "t": "2026-12-02T11:33:09.430609",
        "m": 'Traceback (most recent call last):\n  File "/srv/comfy/nodes.py", '
        "line 2131, in load_custom_node\nRuntimeError: this pack needs a newer ComfyUI\n\n",
    },
    {
        "t": "2026-12-02T11:33:09.430668",
        "m": "Cannot import /srv/comfy/custom_nodes/broken_pack module for "
        "custom nodes: this pack needs a newer ComfyUI\n",
    },
    {
        "t": "2026-12-02T11:33:09.432190",
        "m": "Cannot import /srv/comfy/custom_nodes/probe.py module for custom "
        "nodes: No module named 'onnxruntime'\n",
    },
    {"t": "2026-12-02T11:33:09.432214", "m": "\nImport times for custom nodes:\n"},
    {
        "t": "2026-12-02T11:33:09.432254",
        "m": "   0.0 seconds (IMPORT FAILED): /srv/comfy/custom_nodes/probe.py\n",
    },
    {"t": "2026-12-02T11:33:09.432336", "m": "IMPORT FAILED: nodes_audio.py\n"},
]


def test_import_failures_are_read_from_the_real_log_wording() -> None:
    found = import_failures(REAL_ENTRIES)
    assert found == [
        ImportFailure("comfy_extras/nodes_audio.py", "No module named 'torchaudio'"),
        ImportFailure("custom_nodes/broken_pack", "this pack needs a newer ComfyUI"),
        ImportFailure("custom_nodes/probe.py", "No module named 'onnxruntime'"),
    ]
    assert [f.custom for f in found] == [False, True, True]
    assert str(found[1]) == "custom_nodes/broken_pack (this pack needs a newer ComfyUI)"


def test_a_log_without_failures_or_with_junk_gives_nothing() -> None:
    assert import_failures([]) == []
    assert import_failures([{"t": "x", "m": "Starting server\n"}, "not an entry", {"m": 3}, None]) == []


def test_missing_node_types_come_from_preflight_reasons() -> None:
    reasons = [
        "Slow Steps (node 2): node type SlowSteps is not installed on this backend",
        "Load Checkpoint (node 4): ckpt_name 'x.safetensors' is not available",
        "Other (node 5): node type SlowSteps is not installed on this backend",
    ]
    assert missing_node_types(reasons) == ["SlowSteps"]


def test_the_preview_method_comes_from_the_servers_argv() -> None:
    def stats(*argv: str) -> dict:
        return {"system": {"argv": ["main.py", *argv]}}

    assert preview_method(stats("--cpu", "--preview-method", "auto")) == "auto"
    assert preview_method(stats("--preview-method=taesd")) == "taesd"
    assert preview_method(stats("--listen")) == "none", "ComfyUI's default is no previews"
    assert preview_method({"system": {}}) is None, "unknown: say nothing"


def test_cpu_only_when_every_device_is_the_cpu() -> None:
    assert runs_on_cpu({"devices": [{"name": "cpu", "type": "cpu"}]})
    assert not runs_on_cpu({"devices": [{"name": "cuda:0 RTX", "type": "cuda"}]})
    assert not runs_on_cpu({"devices": []})
    assert not runs_on_cpu({})
