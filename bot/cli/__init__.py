"""Command-line tools: ``comfycord check``, ``generate``, ``invite`` and ``doctor``."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bot.cli.check import run_check
from bot.cli.doctor import run_doctor
from bot.cli.generate import run_generate
from bot.cli.invite import run_invite
from bot.config import Settings


def add_commands(sub: Any) -> None:
    """Register the CLI's subcommands on an argparse subparsers object."""
    check = sub.add_parser("check", help="validate workflows/ and show which backends can run them")
    check.add_argument(
        "--backend",
        action="append",
        default=[],
        metavar="URL",
        help="a ComfyUI URL to check against (repeatable)",
    )
    gen = sub.add_parser("generate", help="run one template through ComfyUI and save the images")
    gen.add_argument("template", help="template (command) name, e.g. imagine")
    gen.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        dest="values",
        help="a parameter value (repeatable)",
    )
    gen.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="NAME=PATH",
        dest="images",
        help="an image for an image or mask parameter (repeatable)",
    )
    gen.add_argument("--out", default="out", metavar="DIR", help="where to save the images (default: out)")
    gen.add_argument(
        "--backend", action="append", default=[], metavar="URL", help="ComfyUI URL (default: COMFYUI_URLS)"
    )
    gen.add_argument("--json", action="store_true", help="print a JSON summary instead of text")
    invite = sub.add_parser("invite", help="print the URL that adds the bot to a Discord server")
    invite.add_argument(
        "--client-id",
        metavar="ID",
        default=None,
        help="the Application ID (default: read from DISCORD_TOKEN)",
    )
    sub.add_parser(
        "doctor", help="check the settings, DATA_DIR, workflows and every backend, and say what to fix"
    )


def dispatch(command: str, args: argparse.Namespace, settings: Settings) -> int:
    if command == "check":
        return asyncio.run(run_check(settings, args.backend))
    if command == "generate":
        return asyncio.run(run_generate(settings, args))
    if command == "invite":
        return run_invite(settings, args.client_id)
    if command == "doctor":
        return asyncio.run(run_doctor(settings))
    raise SystemExit(f"unknown command {command!r}")
