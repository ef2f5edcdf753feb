"""The workflows folder on disk: areas, atomic writes, moves that never publish half a template, and
the fingerprint the watcher compares."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.templates.folder import Area, WorkflowFolder, write_atomically
from tests.unit.templates.conftest import BUNDLED


@pytest.fixture
def folder(tmp_path: Path) -> WorkflowFolder:
    root = tmp_path / "workflows"
    root.mkdir()
    for name in ("imagine.json", "imagine.toml", "upscale.json", "upscale.toml"):
        (root / name).write_bytes((BUNDLED / name).read_bytes())
    return WorkflowFolder(root)


def stems(folder: WorkflowFolder) -> dict[tuple[Area, str], bool]:
    return {(s.area, s.stem): s.files is not None for s in folder.read().stems}


def test_each_area_is_read_and_problems_name_the_subfolder(folder: WorkflowFolder) -> None:
    folder.write(Area.DRAFT, "sketch", (BUNDLED / "imagine.json").read_text(), None)
    (folder.directory(Area.RETIRED)).mkdir()
    (folder.directory(Area.RETIRED) / "old.json").write_text("{not json")
    (folder.directory(Area.DRAFT) / "lonely.toml").write_text("")
    read = folder.read()
    assert stems(folder) == {
        (Area.PUBLISHED, "imagine"): True,
        (Area.PUBLISHED, "upscale"): True,
        (Area.DRAFT, "sketch"): True,
        (Area.RETIRED, "old"): True,  # read fine; whether it parses is the catalog's business
    }
    draft = next(s for s in read.stems if s.area is Area.DRAFT)
    assert draft.files is not None
    assert draft.files.json_name == "drafts/sketch.json"
    assert [p.file for p in read.problems] == ["drafts/lonely.toml"]


def test_a_write_leaves_no_temporary_file_and_a_leftover_one_is_never_loaded(folder: WorkflowFolder) -> None:
    root = folder.root
    folder.write(Area.PUBLISHED, "imagine", "{}", "[command]\n")
    assert sorted(p.name for p in root.iterdir()) == [
        "imagine.json",
        "imagine.toml",
        "upscale.json",
        "upscale.toml",
    ]
    (root / ".imagine.json.1234abcd.tmp").write_text("{half")  # what a crash mid-write leaves
    assert (root / "imagine.json").read_text() == "{}"
    assert {s.stem for s in folder.read().stems} == {"imagine", "upscale"}


def test_write_atomically_replaces_the_file_in_one_step(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    target.write_text("old")
    inode = target.stat().st_ino
    write_atomically(target, b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_ino != inode  # a new file renamed over the old one, not rewritten in place


def test_dropping_a_manifest_removes_it(folder: WorkflowFolder) -> None:
    folder.write(Area.PUBLISHED, "imagine", (BUNDLED / "imagine.json").read_text(), None)
    assert not folder.toml_path(Area.PUBLISHED, "imagine").exists()


def test_publishing_moves_the_manifest_first_and_retiring_moves_the_workflow_first(
    folder: WorkflowFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder.write(Area.DRAFT, "sketch", "{}", "[command]\n")
    renames: list[str] = []
    real = os.replace

    def recording(old: str | Path, new: str | Path) -> None:
        renames.append(Path(new).relative_to(folder.root).as_posix())
        real(old, new)

    monkeypatch.setattr(os, "replace", recording)
    folder.move("sketch", Area.DRAFT, Area.PUBLISHED)
    assert renames == ["sketch.toml", "sketch.json"]
    renames.clear()
    folder.move("sketch", Area.PUBLISHED, Area.RETIRED)
    assert renames == ["retired/sketch.json", "retired/sketch.toml"]


def test_a_stale_manifest_in_the_target_does_not_shape_a_workflow_without_one(folder: WorkflowFolder) -> None:
    folder.write(Area.RETIRED, "sketch", "{}", "[command]\nname = 'old'\n")
    folder.write(Area.DRAFT, "sketch", "{}", None)
    folder.move("sketch", Area.DRAFT, Area.RETIRED)
    assert not folder.toml_path(Area.RETIRED, "sketch").exists()


def test_the_fingerprint_changes_with_any_file_and_not_otherwise(folder: WorkflowFolder) -> None:
    first = folder.fingerprint()
    assert folder.fingerprint() == first
    (folder.root / "notes.txt").write_text("not a template file")
    (folder.root / ".hidden.json").write_text("{}")
    assert folder.fingerprint() == first
    write_atomically(folder.root / "imagine.toml", (folder.root / "imagine.toml").read_bytes())
    second = folder.fingerprint()
    assert second != first  # same bytes, but a new file: looked at again (the version says it is equal)
    folder.write(Area.DRAFT, "sketch", "{}", None)
    assert folder.fingerprint() != second
