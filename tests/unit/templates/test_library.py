"""The live library: versions superseded by an edit stay while jobs need them, retired names are
remembered, and a swap replaces everything at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.templates.catalog import Catalog, build_catalog
from bot.templates.folder import Area, WorkflowFolder
from bot.templates.library import TemplateLibrary
from tests.unit.templates.conftest import BUNDLED


@pytest.fixture
def folder(tmp_path: Path) -> WorkflowFolder:
    root = tmp_path / "workflows"
    root.mkdir()
    for name in ("imagine", "upscale"):
        for suffix in (".json", ".toml"):
            (root / f"{name}{suffix}").write_bytes((BUNDLED / f"{name}{suffix}").read_bytes())
    return WorkflowFolder(root)


def edit(folder: WorkflowFolder, cfg: int, previous: Catalog) -> Catalog:
    text = (BUNDLED / "imagine.json").read_text().replace('"cfg": 8', f'"cfg": {cfg}')
    (folder.root / "imagine.json").write_text(text)
    return build_catalog(folder.read(), previous)


def test_an_edit_keeps_the_old_version_for_the_jobs_that_have_it(folder: WorkflowFolder) -> None:
    first = build_catalog(folder.read())
    library = TemplateLibrary(first)
    v1 = library.version("imagine")
    assert v1 is not None
    library.swap(edit(folder, 5, first))
    v2 = library.version("imagine")
    assert v2 not in (None, v1)
    old, new = library.at_version("imagine", v1), library.at_version("imagine", v2)
    assert old is not None
    assert new is not None
    assert (old.graph["3"]["inputs"]["cfg"], new.graph["3"]["inputs"]["cfg"]) == (8, 5)
    assert library.get("imagine") is new
    assert ("imagine", v1) in library.in_memory()


def test_prune_keeps_needed_versions_and_the_newest_few(folder: WorkflowFolder) -> None:
    library = TemplateLibrary(build_catalog(folder.read()), keep_superseded=1)
    versions = [library.version("imagine")]
    for cfg in (2, 3, 4):
        library.swap(edit(folder, cfg, library.catalog))
        versions.append(library.version("imagine"))
    # superseded now: versions[0..2]; the newest superseded (versions[2]) is always kept
    assert library.prune({("imagine", versions[0])}) == 1
    assert library.at_version("imagine", versions[0]) is not None  # an open job needs it
    assert library.at_version("imagine", versions[1]) is None
    assert library.at_version("imagine", versions[2]) is not None
    assert library.at_version("imagine", versions[3]) is library.get("imagine")


def test_restoring_a_version_makes_it_current_again(folder: WorkflowFolder) -> None:
    first = build_catalog(folder.read())
    library = TemplateLibrary(first)
    v1 = library.version("imagine")
    library.swap(edit(folder, 5, first))
    library.swap(edit(folder, 8, library.catalog))  # back to the bundled text
    assert library.version("imagine") == v1
    assert library.at_version("imagine", v1) is library.get("imagine")


def test_retired_and_removed_templates(folder: WorkflowFolder) -> None:
    library = TemplateLibrary(build_catalog(folder.read()))
    upscale_version = library.version("upscale")
    folder.move("upscale", Area.PUBLISHED, Area.RETIRED)
    library.swap(build_catalog(folder.read(), library.catalog))
    assert library.is_retired("upscale")
    assert library.runnable("upscale") is None
    assert library.at_version("upscale", upscale_version) is not None  # its open jobs still run
    names = {t.name for t in library.templates_for_capabilities()}
    assert names == {"imagine", "upscale"}  # so backends keep taking them

    for suffix in (".json", ".toml"):
        (folder.root / f"imagine{suffix}").unlink()
    library.swap(build_catalog(folder.read(), library.catalog))
    assert library.is_retired("imagine")  # removed from the folder counts as retired
    assert not library.is_retired("never-existed")


def test_drafts_run_but_are_not_published(folder: WorkflowFolder) -> None:
    folder.write(Area.DRAFT, "sketch", (BUNDLED / "invert.json").read_text(), None)
    library = TemplateLibrary(build_catalog(folder.read()))
    assert "sketch" not in library
    assert library.get("sketch") is None
    assert library.runnable("sketch") is not None
    assert library.version("sketch") is not None
    assert [t.name for t in library] == ["imagine", "upscale"]
