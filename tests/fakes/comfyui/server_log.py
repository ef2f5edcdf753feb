"""The server log a real ComfyUI keeps in memory (its last 300 records) and serves on
``GET /internal/logs`` (one string) and ``GET /internal/logs/raw`` (``{"entries": [{"t", "m"}], "size"}``).

Only the start-up lines a client can learn from are reproduced: the device, and the node modules that
failed to import, in the words and order of ComfyUI 0.3.64 (``nodes.py`` load_custom_node and
init_external_custom_nodes, seen on the real server built by ../shared/real-comfyui/setup.sh).
"""

from __future__ import annotations

import datetime
from typing import Any

from .settings import FakeSettings

CAPACITY = 300
BUNDLED_CUSTOM_NODES = ("websocket_image_save.py", "slow_steps_test_node.py")


def _device_line(settings: FakeSettings) -> str:
    if settings.device == "cuda":
        return "Device: cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync\n"
    return "Device: cpu\n"


def log_messages(settings: FakeSettings, root: str) -> list[str]:
    """The start-up messages, oldest first."""
    messages = [
        "Checkpoint files will always be loaded safely.\n",
        "Total VRAM 24105 MB, total RAM 24105 MB\n",
        "pytorch version: 2.13.0+cpu\n",
        _device_line(settings),
    ]
    for module, reason, _ in settings.import_failures:
        path = f"{root}/{module}"
        messages.append(
            "Traceback (most recent call last):\n"
            f'  File "{root}/nodes.py", line 2131, in load_custom_node\n'
            "    module_spec.loader.exec_module(module)\n"
            f"{reason}\n\n"
        )
        messages.append(f"Cannot import {path} module for custom nodes: {reason}\n")
    messages.append("\nImport times for custom nodes:\n")
    loaded = [(f"{root}/custom_nodes/{name}", "") for name in BUNDLED_CUSTOM_NODES]
    failed = [(f"{root}/{m}", " (IMPORT FAILED)") for m, _, _ in settings.import_failures]
    for path, mark in sorted(loaded + failed):
        messages.append(f"   0.0 seconds{mark}: {path}\n")
    messages += ["\n", "Starting server\n", "To see the GUI go to: http://127.0.0.1:8188\n"]
    return messages[-CAPACITY:]


def log_entries(settings: FakeSettings, root: str, started: datetime.datetime) -> list[dict[str, Any]]:
    """``/internal/logs/raw`` entries: ISO timestamps (local time, microseconds) and messages."""
    step = datetime.timedelta(microseconds=250)
    return [
        {"t": (started + step * n).isoformat(), "m": message}
        for n, message in enumerate(log_messages(settings, root))
    ]
