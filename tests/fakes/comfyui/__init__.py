"""A protocol-faithful fake ComfyUI server (recorded behaviour of ComfyUI 0.3.64, quirks included)."""

from __future__ import annotations

from .executor import ExecutionRecord
from .images import PREVIEW_IMAGE, PREVIEW_IMAGE_WITH_METADATA, TEXT
from .server import FakeComfyUI
from .settings import FakeSettings

__all__ = [
    "PREVIEW_IMAGE",
    "PREVIEW_IMAGE_WITH_METADATA",
    "TEXT",
    "ExecutionRecord",
    "FakeComfyUI",
    "FakeSettings",
]
