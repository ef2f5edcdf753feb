"""Bits the CLI commands share."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from bot.comfy import Endpoint
from bot.config import Settings, load_settings
from bot.errors import ConfigError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def endpoints(settings: Settings, urls: Sequence[str]) -> tuple[Endpoint, ...]:
    """``--backend`` URLs parsed like COMFYUI_URLS (auth variables apply by position), else the settings'."""
    if not urls:
        return settings.backends
    env = {k: v for k, v in os.environ.items() if k.startswith("COMFYUI_AUTH_")}
    env["COMFYUI_URLS"] = ",".join(urls)
    return load_settings(env, require_discord=False).backends


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def parse_pairs(items: Sequence[str], flag: str) -> dict[str, str]:
    """``name=value`` pairs; raises ConfigError naming every malformed one."""
    pairs: dict[str, str] = {}
    problems = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            problems.append(f"{flag} {item!r} must look like NAME=VALUE")
            continue
        pairs[name.strip()] = value
    if problems:
        raise ConfigError(problems)
    return pairs
