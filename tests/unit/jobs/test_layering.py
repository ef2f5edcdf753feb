"""The job model is a leaf: storage builds on it, and the rest of bot.jobs builds on storage.

If the model imported anything beyond bot.errors, or storage imported more of bot.jobs than the model,
``import bot.storage`` and ``import bot.jobs`` would start to depend on which ran first.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

BOT = Path(__file__).resolve().parents[3] / "bot"
PURE_MODEL = {"bot.jobs.ids", "bot.jobs.states", "bot.jobs.model"}


def _bot_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("bot"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bot"):
            found.add(node.module)
    return found


def test_the_job_model_imports_only_errors_and_itself() -> None:
    for name in PURE_MODEL:
        path = BOT / "jobs" / f"{name.rsplit('.', 1)[1]}.py"
        assert _bot_imports(path) <= {"bot.errors"} | PURE_MODEL, path.name


def test_storage_imports_only_the_pure_part_of_jobs() -> None:
    for path in (BOT / "storage").rglob("*.py"):
        jobs_imports = {m for m in _bot_imports(path) if m.startswith("bot.jobs")}
        assert jobs_imports <= PURE_MODEL, path.name


def test_either_package_can_be_imported_first() -> None:
    for first, second in (("bot.storage", "bot.jobs"), ("bot.jobs", "bot.storage")):
        subprocess.run([sys.executable, "-c", f"import {first}, {second}"], check=True)
