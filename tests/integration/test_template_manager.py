"""The template manager on a real folder and database (no Discord): the watcher acts on a change once it
has settled, operations are validated before anything is written, versions are recorded and pruned, and
a restart brings back what open jobs and broken files need."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.errors import BotError, InvalidInput, TemplateError
from bot.jobmodel.model import new_job
from bot.jobs.template_manager import Reload, TemplateAudit, TemplateManager
from bot.storage import AuditRepository, Database, JobRepository, TemplateVersionRepository
from bot.templates.folder import Area, WorkflowFolder, write_atomically
from bot.templates.library import TemplateLibrary
from tests.e2e.harness import workflows_copy
from tests.e2e.template_support import SKETCH_TOML, sketch_json


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with await Database.open(tmp_path / "data" / "db.sqlite3") as database:
        yield database


@pytest.fixture
def workflows(tmp_path: Path) -> Path:
    return workflows_copy(tmp_path / "workflows")


async def started(db: Database, workflows: Path, **options: object) -> TemplateManager:
    manager = TemplateManager(
        WorkflowFolder(workflows, max_file_bytes=64 * 1024),
        TemplateLibrary(),
        TemplateVersionRepository(db),
        AuditRepository(db),
        **options,  # type: ignore[arg-type]
    )
    await manager.start()
    return manager


async def test_the_watcher_waits_for_a_change_to_settle(db: Database, workflows: Path) -> None:
    manager = await started(db, workflows)
    heard: list[Reload] = []

    async def listener(reload: Reload) -> None:
        heard.append(reload)

    manager.add_listener(listener)
    assert await manager.poll() is None  # nothing changed
    toml = workflows / "imagine.toml"
    write_atomically(toml, toml.read_text().replace("Draw an image", "Draw a picture").encode())
    assert await manager.poll() is None  # seen once: maybe still being written
    reload = await manager.poll()
    assert reload is not None
    assert reload.commands_changed == ("imagine",)
    assert manager.library.get("imagine").description.startswith("Draw a picture")  # type: ignore[union-attr]
    assert await manager.poll() is None
    assert heard == [reload]


async def test_add_refuses_bad_files_before_writing_anything(db: Database, workflows: Path) -> None:
    manager = await started(db, workflows)
    with pytest.raises(TemplateError, match="UI-format export"):
        await manager.add(b'{"nodes": [], "links": []}', None, stem="ui", actor_id=1, guild_id=None)
    with pytest.raises(TemplateError, match="not UTF-8 text"):
        await manager.add(b"\xff\xfe{}", None, stem="latin", actor_id=1, guild_id=None)
    with pytest.raises(TemplateError, match=r"the limit is 64\.0 KiB \(the WORKFLOW_MAX_MB setting\)"):
        await manager.add(b"{" + b" " * 70_000 + b"}", None, stem="big", actor_id=1, guild_id=None)
    renamed = SKETCH_TOML.replace('"sketch"', '"upscale"')
    with pytest.raises(InvalidInput, match="`/upscale` already exists"):
        await manager.add(sketch_json(), renamed.encode(), stem="other", actor_id=1, guild_id=None)
    with pytest.raises(TemplateError, match="bot's own commands"):
        await manager.add(sketch_json(), None, stem="queue", actor_id=1, guild_id=None)
    assert not (workflows / "drafts").exists()
    assert await manager.audit.recent() == []


async def test_each_operation_is_recorded_with_the_files_hashes(db: Database, workflows: Path) -> None:
    manager = await started(db, workflows)
    entry = await manager.add(sketch_json(), SKETCH_TOML.encode(), stem="sketch", actor_id=11, guild_id=5)
    assert (entry.area, entry.files.json_name) == (Area.DRAFT, "drafts/sketch.json")
    edited, previous = await manager.edit(
        "sketch", workflow=sketch_json(cfg=2.0), manifest=None, actor_id=12, guild_id=5
    )
    assert previous == entry.version != edited.version
    with pytest.raises(InvalidInput, match="as it is now"):
        await manager.edit("sketch", workflow=sketch_json(cfg=2.0), manifest=None, actor_id=12, guild_id=5)

    [add] = await manager.audit.recent(action=TemplateAudit.ADD)
    [edit] = await manager.audit.recent(action=TemplateAudit.EDIT)
    on_disk = (workflows / "drafts" / "sketch.json").read_bytes()
    assert edit.details["files"]["drafts/sketch.json"] == hashlib.sha256(on_disk).hexdigest()
    assert (add.actor_id, edit.actor_id, edit.guild_id) == (11, 12, 5)
    assert edit.details["previous"] == entry.version
    history = await manager.history("sketch")
    assert [(v.version, v.created_by) for v in history] == [(edited.version, 12), (entry.version, 11)]


async def test_publishing_needs_an_image_server_that_can_run_it(db: Database, workflows: Path) -> None:
    manager = await started(db, workflows)
    await manager.add(sketch_json(), SKETCH_TOML.encode(), stem="sketch", actor_id=1, guild_id=None)
    with pytest.raises(InvalidInput, match="No image server is answering"):
        await manager.publish("sketch", actor_id=1, guild_id=None)
    assert manager.library.drafts.names == ("sketch",)
    assert not (workflows / "sketch.json").exists()


async def test_a_restart_brings_back_versions_open_jobs_need_and_broken_files_last_version(
    db: Database, workflows: Path
) -> None:
    manager = await started(db, workflows)
    old = manager.library.version("imagine")
    assert old is not None
    job = new_job(
        job_id="ABCD2345",
        guild_id=1,
        channel_id=2,
        user_id=3,
        template="imagine",
        params={"prompt": "x"},
        now=0.0,
        template_version=old,
    )
    await JobRepository(db).insert(job)
    graph = workflows / "imagine.json"
    write_atomically(graph, graph.read_text().replace('"denoise": 1', '"denoise": 0.5').encode())
    upscale = workflows / "upscale.json"
    upscale_version = manager.library.version("upscale")
    write_atomically(upscale, b"{broken")

    again = await started(db, workflows)  # a new process: it knows the old versions from the database
    assert again.library.version("imagine") != old
    kept = again.library.at_version("imagine", old)
    assert kept is not None
    assert kept.graph["3"]["inputs"]["denoise"] == 1
    entry = again.library.entry("upscale")
    assert entry is not None
    assert entry.version == upscale_version
    assert entry.broken
    assert again.first_load.kept == ("upscale",)
    assert [p.file for p in again.first_load.new_problems] == ["upscale.json"]


async def test_old_versions_are_pruned_to_the_newest(db: Database, workflows: Path) -> None:
    manager = await started(db, workflows, keep_versions=2)
    await manager.add(sketch_json(), SKETCH_TOML.encode(), stem="sketch", actor_id=1, guild_id=None)
    for cfg in (1.0, 2.0, 3.0, 4.0):
        await manager.edit("sketch", workflow=sketch_json(cfg=cfg), manifest=None, actor_id=1, guild_id=None)
    history = await manager.history("sketch")
    assert len(history) == 2
    assert history[0].version == manager.library.version("sketch")


async def test_a_folder_the_bot_may_not_write_is_said_so(
    db: Database, workflows: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = await started(db, workflows)

    def refused(*args: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("os.replace", refused)  # a read-only mount refuses the rename
    with pytest.raises(BotError, match=r"can't write to the workflows folder \(Permission denied\)"):
        await manager.add(sketch_json(), SKETCH_TOML.encode(), stem="sketch", actor_id=1, guild_id=None)
    assert manager.library.drafts.names == ()
    assert not list((workflows / "drafts").glob("*.json"))
    assert await manager.audit.recent() == []
