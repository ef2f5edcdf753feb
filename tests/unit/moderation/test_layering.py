"""bot.moderation is plain policy: it never imports discord, and of the bot only errors and storage."""

from __future__ import annotations

import ast
from pathlib import Path

MODERATION = Path(__file__).resolve().parents[3] / "bot" / "moderation"
ALLOWED = ("bot.errors", "bot.storage", "bot.moderation")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_moderation_imports_no_discord_and_only_lower_layers() -> None:
    for path in MODERATION.glob("*.py"):
        for name in _imports(path):
            assert name.split(".")[0] != "discord", path.name
            if name.startswith("bot"):
                assert name.startswith(ALLOWED), (path.name, name)
