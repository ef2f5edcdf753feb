"""The catalog of the folder: unchanged files are not parsed again, a broken file keeps its last good
version, names are unique across published templates and drafts, a draft's actions may use itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.templates.catalog import build_catalog
from bot.templates.folder import Area, FolderRead, StemRead, WorkflowFolder
from bot.templates.loader import TemplateFiles
from tests.unit.templates.conftest import BUNDLED


@pytest.fixture
def folder(tmp_path: Path) -> WorkflowFolder:
    root = tmp_path / "workflows"
    root.mkdir()
    for name in ("imagine", "upscale"):
        for suffix in (".json", ".toml"):
            (root / f"{name}{suffix}").write_bytes((BUNDLED / f"{name}{suffix}").read_bytes())
    return WorkflowFolder(root)


def test_a_clean_folder(folder: WorkflowFolder) -> None:
    catalog = build_catalog(folder.read())
    assert catalog.published.names == ("imagine", "upscale")
    assert catalog.problems == ()
    assert set(catalog.versions()) == {"imagine", "upscale"}
    assert catalog.published["imagine"].actions[0].template == "upscale"


def test_unchanged_files_keep_their_parsed_template(folder: WorkflowFolder) -> None:
    first = build_catalog(folder.read())
    second = build_catalog(folder.read(), first)
    assert second.entry("upscale").template is first.entry("upscale").template  # type: ignore[union-attr]


def test_a_broken_file_keeps_the_last_good_version_and_says_why(folder: WorkflowFolder) -> None:
    first = build_catalog(folder.read())
    (folder.root / "imagine.json").write_text('{"3": ')
    second = build_catalog(folder.read(), first)
    entry = second.entry("imagine")
    assert entry is not None
    assert entry.version == first.entry("imagine").version  # type: ignore[union-attr]
    assert [p.file for p in entry.broken] == ["imagine.json"]
    assert "invalid JSON" in entry.broken[0].message
    assert [p.file for p in second.problems] == ["imagine.json"]
    assert "imagine" in second.published

    without_history = build_catalog(folder.read())
    assert "imagine" not in without_history.published  # nothing to fall back to: not loaded


def test_a_broken_file_at_start_uses_the_version_recorded_before(folder: WorkflowFolder) -> None:
    good = (folder.root / "imagine.json").read_text()
    manifest = (folder.root / "imagine.toml").read_text()
    (folder.root / "imagine.json").write_text("[]")
    recorded = TemplateFiles("imagine", good, manifest, "imagine.json", "imagine.toml")
    catalog = build_catalog(folder.read(), fallback={(Area.PUBLISHED, "imagine"): recorded})
    entry = catalog.entry("imagine")
    assert entry is not None
    assert entry.version == recorded.version
    assert entry.broken


def test_a_draft_may_not_take_a_published_name(folder: WorkflowFolder) -> None:
    folder.write(
        Area.DRAFT, "copy", (BUNDLED / "upscale.json").read_text(), (BUNDLED / "upscale.toml").read_text()
    )
    catalog = build_catalog(folder.read())
    assert catalog.drafts.names == ()
    [problem] = catalog.problems
    assert problem.file == "drafts/copy.toml"
    assert "command name 'upscale' is already used by upscale.toml" in problem.message


def test_a_retired_template_is_known_but_not_runnable(folder: WorkflowFolder) -> None:
    folder.move("upscale", Area.PUBLISHED, Area.RETIRED)
    catalog = build_catalog(folder.read())
    assert catalog.published.names == ("imagine",)
    assert catalog.template("upscale") is None
    assert catalog.area_of("upscale") is Area.RETIRED
    # imagine's Upscale button points at a retired template: dropped, and said
    assert catalog.published["imagine"].actions == ()
    assert any("template 'upscale' is not loaded" in p.message for p in catalog.problems)


def test_problems_of_unreadable_files_keep_the_previous_entry(folder: WorkflowFolder) -> None:
    first = build_catalog(folder.read())
    unreadable = StemRead(Area.PUBLISHED, "upscale", None, ())
    read = folder.read()
    stems = tuple(unreadable if s.stem == "upscale" else s for s in read.stems)
    second = build_catalog(FolderRead(stems), first)
    assert second.entry("upscale") is not None
