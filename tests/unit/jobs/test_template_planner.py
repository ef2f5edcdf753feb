"""The planner renders a job with the template version it recorded, and validates new jobs against
the current one (which it names, so the job can record it)."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest

from bot.errors import InvalidParameter
from bot.jobs.template_planner import TemplatePlanner
from bot.templates import templates_from
from bot.templates.catalog import build_catalog
from bot.templates.folder import WorkflowFolder
from bot.templates.library import TemplateLibrary
from tests.e2e.harness import workflows_copy


@pytest.fixture
def folder(tmp_path: Path) -> WorkflowFolder:
    return WorkflowFolder(workflows_copy(tmp_path / "workflows"))


def test_a_job_runs_the_version_it_recorded(folder: WorkflowFolder, caplog: pytest.LogCaptureFixture) -> None:
    library = TemplateLibrary(build_catalog(folder.read()))
    planner = TemplatePlanner(library)
    params = planner.validate("imagine", {"prompt": "a cat"}, random.Random(1))
    old = planner.version("imagine")
    graph = folder.root / "imagine.json"
    graph.write_text(graph.read_text().replace('"denoise": 1', '"denoise": 0.5'))
    library.swap(build_catalog(folder.read(), library.catalog))
    new = planner.version("imagine")
    assert new != old

    assert planner.plan("imagine", params, {}, old).graph["3"]["inputs"]["denoise"] == 1
    assert planner.plan("imagine", params, {}, new).graph["3"]["inputs"]["denoise"] == 0.5
    assert planner.plan("imagine", params, {}).graph["3"]["inputs"]["denoise"] == 0.5  # unversioned job
    with caplog.at_level(logging.WARNING):
        plan = planner.plan("imagine", params, {}, "0123456789ab")
    assert plan.graph["3"]["inputs"]["denoise"] == 0.5
    assert "version 0123456789ab is no longer known" in caplog.text


def test_a_retired_templates_queued_jobs_still_plan_but_new_ones_are_refused(folder: WorkflowFolder) -> None:
    library = TemplateLibrary(build_catalog(folder.read()))
    planner = TemplatePlanner(library)
    params = planner.validate("invert", {}, random.Random(1), attached={"image"})
    version = planner.version("invert")
    for suffix in (".json", ".toml"):
        (folder.root / f"invert{suffix}").unlink()
    library.swap(build_catalog(folder.read(), library.catalog))
    assert not planner.knows("invert")
    with pytest.raises(InvalidParameter):
        planner.validate("invert", {}, random.Random(1))
    assert planner.plan("invert", params, {"image": "x.png"}, version).graph
    assert "invert" in planner.capabilities({})  # backends are still asked about it


def test_a_fixed_set_is_unversioned(folder: WorkflowFolder) -> None:
    library = TemplateLibrary(build_catalog(folder.read()))
    planner = TemplatePlanner(templates_from(library.published))
    assert planner.version("imagine") is None
    assert planner.knows("imagine")


def test_the_planners_templates_read_like_a_template_set(folder: WorkflowFolder) -> None:
    planner = TemplatePlanner(TemplateLibrary(build_catalog(folder.read())))
    assert planner.templates["imagine"].name == "imagine"
    assert "imagine" in planner.templates
    with pytest.raises(KeyError):
        planner.templates["nothing"]
