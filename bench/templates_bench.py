"""Live templates: what watching the workflows folder costs, and what a reload costs.

* ``poll_ms``: one look at the folder when nothing changed (a directory listing per area and the stat
  data it carries), for the bundled 5 templates and for 100 (Discord's command limit); the bot does
  this every WORKFLOWS_POLL_SECONDS.
* ``reload_ms``: reading every file and building the catalog after one template changed (the others
  are reused, not parsed again), and ``full_load_ms``: the first load, which parses everything.
* ``versions_kept_kib``: memory held by superseded versions of one template (the graph as parsed),
  which the library keeps while open jobs need them.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.stats import summary
from bot.templates.catalog import Catalog, build_catalog
from bot.templates.folder import WorkflowFolder, write_atomically

ROOT = Path(__file__).resolve().parents[1] / "workflows"


def _folder(tmp: Path, copies: int) -> WorkflowFolder:
    root = tmp / f"workflows-{copies}"
    root.mkdir()
    sources = sorted(p for p in ROOT.iterdir() if p.suffix in (".json", ".toml"))
    for n in range(copies):
        for source in sources:
            stem = source.stem if n == 0 else f"{source.stem}-{n}"
            text = source.read_text()
            if source.suffix == ".toml":
                text = text.replace(f'name = "{source.stem}"', f'name = "{stem}"')
            (root / f"{stem}{source.suffix}").write_text(text)
    return WorkflowFolder(root)


def _timed(action: Any, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def run(rounds: int) -> dict[str, Any]:
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for copies, label in ((1, "5_templates"), (20, "100_templates")):
            folder = _folder(Path(tmp), copies)
            report.setdefault("poll_ms", {})[label] = summary(_timed(folder.fingerprint, rounds * 5))
            report.setdefault("full_load_ms", {})[label] = summary(
                _timed(lambda f=folder: build_catalog(f.read()), max(3, rounds // 5))
            )
            catalog = build_catalog(folder.read())
            toml = folder.root / "imagine.toml"
            original = toml.read_text()

            def one_change(
                f: WorkflowFolder = folder, t: Path = toml, text: str = original, c: Catalog = catalog
            ) -> None:
                write_atomically(t, (text + f"\n# {time.perf_counter()}\n").encode())
                build_catalog(f.read(), c)

            report.setdefault("reload_ms", {})[label] = summary(_timed(one_change, max(3, rounds // 5)))
        template = catalog.published["imagine"]
        report["versions_kept_kib"] = round(_deep_size(template.graph) / 1024, 1)
    return report


def _deep_size(value: object) -> int:
    size = sys.getsizeof(value)
    if isinstance(value, dict):
        size += sum(_deep_size(k) + _deep_size(v) for k, v in value.items())
    elif isinstance(value, list | tuple):
        size += sum(_deep_size(v) for v in value)
    return size
