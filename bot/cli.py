"""Command-line tools: ``comfycord check`` and ``comfycord generate`` (filled in by the templates work)."""

from __future__ import annotations

import argparse
from typing import Any

from bot.config import Settings


def add_commands(sub: Any) -> None:
    """Register the CLI's subcommands on an argparse subparsers object."""
    del sub


def dispatch(command: str, args: argparse.Namespace, settings: Settings) -> int:
    raise SystemExit(f"unknown command {command!r}")
