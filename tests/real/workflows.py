"""The real tier's workflow folder: the bundled templates as they ship, plus a ``tiny`` (64x64) size for
/imagine so a CPU server answers in seconds, plus the test-only templates in ``extra_workflows/``.

``python -m tests.real.workflows DEST`` writes the same folder for other uses (e.g. ``python -m bench
--real URL --workflows DEST --set size=tiny --set steps=2`` on a CPU-only machine).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "workflows"
EXTRA = Path(__file__).resolve().parent / "extra_workflows"
TINY = "tiny = { width = 64, height = 64 }"
#: the test-only templates that need nothing but a bare ComfyUI with the SlowSteps test node
EXTRA_TEMPLATES = ("slow", "maskview", "huge", "mismatch")


def with_tiny_size(manifest: str) -> str:
    """imagine.toml with one more size choice; everything else as bundled."""
    header = "[params.size.choices]\n"
    if header not in manifest:
        raise ValueError("imagine.toml has no [params.size.choices] table to add the tiny size to")
    return manifest.replace(header, header + TINY + "\n", 1)


def build(target: Path, *, extra: tuple[str, ...] = EXTRA_TEMPLATES) -> Path:
    """Write the tier's workflows into ``target`` (created; existing files are replaced)."""
    target.mkdir(parents=True, exist_ok=True)
    for source in BUNDLED.iterdir():
        if source.suffix in (".json", ".toml"):
            shutil.copyfile(source, target / source.name)
    imagine = target / "imagine.toml"
    imagine.write_text(with_tiny_size(imagine.read_text()))
    for name in extra:
        for suffix in (".json", ".toml"):
            shutil.copyfile(EXTRA / f"{name}{suffix}", target / f"{name}{suffix}")
    return target


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m tests.real.workflows DEST", file=sys.stderr)
        raise SystemExit(2)
    print(build(Path(sys.argv[1])))
