"""Entry point: ``comfycord`` / ``python -m bot``. The only place that reads ``.env``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from dotenv import load_dotenv

from bot.config import load_settings
from bot.errors import ConfigError
from bot.logsetup import configure_logging
from bot.observability.logs import secrets_of

EXIT_CONFIG = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="comfycord", description="ComfyUI in front of Discord.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the Discord bot (the default)")
    from bot import cli

    cli.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    load_dotenv()
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command or "run"
    try:
        settings = load_settings(os.environ, require_discord=command == "run")
    except ConfigError as exc:
        print(exc.user_message, file=sys.stderr)
        return EXIT_CONFIG
    # The CLI tools print their own results; their logs stay quiet unless LOG_LEVEL asks otherwise.
    level = settings.log_level if command == "run" or os.environ.get("LOG_LEVEL") else "WARNING"
    configure_logging(level, settings.log_format, secrets=secrets_of(settings))
    if command == "run":
        from bot.app import run_bot

        return run_bot(settings)
    from bot import cli

    return cli.dispatch(command, args, settings)


if __name__ == "__main__":
    sys.exit(main())
