"""Shared fixtures: the fake ComfyUI servers (the fake Discord's live under tests/integration)."""

from tests.fakes.comfyui.fixtures import fake_comfy, fake_comfy_factory

__all__ = ["fake_comfy", "fake_comfy_factory"]
