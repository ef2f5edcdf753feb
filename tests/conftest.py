"""Shared fixtures: the fake ComfyUI servers and the fake Discord."""

from tests.fakes.comfyui.fixtures import fake_comfy, fake_comfy_factory
from tests.fakes.discord.fixtures import fake_discord, fake_discord_factory, fake_discord_options

__all__ = ["fake_comfy", "fake_comfy_factory", "fake_discord", "fake_discord_factory", "fake_discord_options"]
