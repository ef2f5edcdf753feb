"""What a ComfyUI says about itself beyond ``/object_info``, for ``doctor`` and ``check``: the device it
computes on, whether it sends live previews, and which node modules failed to import at start.

ComfyUI drops a custom node pack that fails to import (a missing pip package, a too-old ComfyUI)
without a trace in ``/object_info``: the node types are simply absent. Only its log says why, and it
keeps the last 300 records in memory on ``GET /internal/logs/raw``. Everything here is best effort:
an older ComfyUI or a proxy may not serve the log, and a long-running server may have rotated the
start-up lines out.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from bot.comfy import Endpoint

_CANNOT_IMPORT: Final = re.compile(r"^Cannot import (?P<path>.+?) module for custom nodes: (?P<reason>.*)$")
_MISSING_NODE: Final = re.compile(r"node type (?P<type>\S+) is not installed")
_MODULE_ROOTS: Final = ("custom_nodes/", "comfy_extras/", "comfy_api_nodes/")


@dataclass(frozen=True, slots=True)
class ImportFailure:
    """One node module ComfyUI could not import: where it lives and why it failed."""

    module: str  # from "custom_nodes/..." on, else the path as logged
    reason: str

    @property
    def custom(self) -> bool:
        return self.module.startswith("custom_nodes/")

    def __str__(self) -> str:
        return f"{self.module} ({self.reason})"


def _short(path: str) -> str:
    for root in _MODULE_ROOTS:
        at = path.rfind("/" + root)
        if at >= 0:
            return path[at + 1 :]
    return path


def import_failures(entries: Iterable[object]) -> list[ImportFailure]:
    """The node modules a ComfyUI log (``/internal/logs/raw`` entries) says failed to import."""
    found: dict[str, ImportFailure] = {}
    for entry in entries:
        message = entry.get("m") if isinstance(entry, Mapping) else None
        if not isinstance(message, str):
            continue
        for line in message.splitlines():
            match = _CANNOT_IMPORT.match(line.strip())
            if match:
                module = _short(match["path"])
                found[module] = ImportFailure(module, match["reason"].strip() or "unknown reason")
    return list(found.values())


async def read_log(session: aiohttp.ClientSession, endpoint: Endpoint, seconds: float) -> list[object] | None:
    """The entries of the server's in-memory log, or None when it does not serve one."""
    try:
        async with asyncio.timeout(seconds):
            async with session.get(
                endpoint.http_url("/internal/logs/raw"), headers=endpoint.auth.headers()
            ) as response:
                if response.status != 200:
                    return None
                body: Any = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError, OSError):
        return None
    entries = body.get("entries") if isinstance(body, Mapping) else None
    return list(entries) if isinstance(entries, list) else None


def missing_node_types(reasons: Iterable[str]) -> list[str]:
    """The node types that preflight reasons say a backend lacks."""
    return list(dict.fromkeys(m["type"] for r in reasons if (m := _MISSING_NODE.search(r))))


def _argv(stats: Mapping[str, Any]) -> list[str] | None:
    system = stats.get("system")
    argv = system.get("argv") if isinstance(system, Mapping) else None
    return [str(a) for a in argv] if isinstance(argv, list) else None


def runs_on_cpu(stats: Mapping[str, Any]) -> bool:
    """True when every device the server reports is the CPU (``--cpu``, or no usable GPU)."""
    devices = stats.get("devices")
    if not isinstance(devices, list) or not devices:
        return False
    return all(isinstance(d, Mapping) and d.get("type") == "cpu" for d in devices)


def preview_method(stats: Mapping[str, Any]) -> str | None:
    """The ``--preview-method`` the server was started with ("none" when not given); None if unknown."""
    argv = _argv(stats)
    if argv is None:
        return None
    for index, arg in enumerate(argv):
        if arg == "--preview-method" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--preview-method="):
            return arg.split("=", 1)[1]
    return "none"
