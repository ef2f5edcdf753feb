"""The job model is a layer of its own: storage builds on it, and bot.jobs builds on storage.

Imports run one way (jobmodel <- storage <- jobs); nothing in the model or in storage imports the
engine, so ``import bot.storage`` never depends on whether ``bot.jobs`` was imported first.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

BOT = Path(__file__).resolve().parents[3] / "bot"


def _bot_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("bot"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bot"):
            found.add(node.module)
    return found


def _package_imports(package: str) -> set[str]:
    return {m for path in (BOT / package).rglob("*.py") for m in _bot_imports(path)}


def test_the_job_model_imports_only_errors_and_itself() -> None:
    """...and the kinds of results (``bot.media.kinds``: a leaf of plain values the ComfyUI client uses
    too, importing nothing of the bot)."""
    imports = _package_imports("jobmodel")
    assert imports, "the scan found the model"
    assert {m for m in imports if not m.startswith("bot.jobmodel")} <= {"bot.errors", "bot.media.kinds"}
    assert not {m for m in _bot_imports(BOT / "media" / "kinds.py") if m != "bot"}


def test_storage_imports_nothing_of_the_engine() -> None:
    assert not {m for m in _package_imports("storage") if m == "bot.jobs" or m.startswith("bot.jobs.")}


def test_the_model_is_not_left_behind_in_the_engine() -> None:
    assert not {p.name for p in (BOT / "jobs").glob("*.py")} & {"model.py", "states.py", "ids.py"}


def test_any_package_can_be_imported_first() -> None:
    for first in ("bot.jobmodel", "bot.storage", "bot.jobs"):
        subprocess.run(
            [sys.executable, "-c", f"import {first}, bot.jobmodel, bot.storage, bot.jobs"], check=True
        )
