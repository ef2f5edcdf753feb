"""Template versions in the database: recorded once, read back newest first, pruned except what open
jobs need; jobs keep the version they were validated against; the roles that manage templates."""

from __future__ import annotations

from bot.jobs import JobState
from bot.storage import Database, JobRepository, TemplateManagerRepository, TemplateVersionRepository
from tests.unit.storage.conftest import FakeClock, MakeJob


async def test_versions_are_recorded_once_and_read_back_newest_first(db: Database, clock: FakeClock) -> None:
    versions = TemplateVersionRepository(db)
    assert await versions.record("imagine", "v1", "imagine", "{}", None)
    assert not await versions.record("imagine", "v1", "imagine", "{changed}", "x", created_by=5)
    clock.advance(10)
    assert await versions.record("imagine", "v2", "imagine", '{"a": 1}', "[command]", created_by=7)
    stored = await versions.get("imagine", "v1")
    assert stored is not None
    assert (stored.workflow, stored.manifest, stored.created_by) == ("{}", None, None)
    assert [v.version for v in await versions.history("imagine")] == ["v2", "v1"]
    latest = await versions.latest_of_stem("imagine")
    assert latest is not None
    assert (latest.version, latest.created_by) == ("v2", 7)
    assert await versions.get("imagine", "v3") is None


async def test_jobs_keep_their_template_version(jobs: JobRepository, make_job: MakeJob) -> None:
    job = await jobs.insert(make_job(template_version="abc123"))
    assert (await jobs.require(job.id)).template_version == "abc123"
    legacy = await jobs.insert(make_job())
    assert (await jobs.require(legacy.id)).template_version is None


async def test_prune_keeps_the_newest_and_what_open_jobs_need(
    db: Database, clock: FakeClock, jobs: JobRepository, make_job: MakeJob
) -> None:
    versions = TemplateVersionRepository(db)
    for n in range(6):
        clock.advance(1)
        await versions.record("imagine", f"v{n}", "imagine", "{}", None)
    await versions.record("upscale", "u0", "upscale", "{}", None)
    await jobs.insert(make_job(template="imagine", template_version="v0"))  # open: needs v0
    done = await jobs.insert(make_job(template="imagine", template_version="v1"))
    await jobs.transition(done.id, JobState.QUEUED, JobState.CANCELLED)
    assert await versions.in_use() == {("imagine", "v0")}

    removed = await versions.prune(keep=2, also_keep={("imagine", "v2")})
    assert removed == 2  # v1 and v3
    assert [v.version for v in await versions.history("imagine")] == ["v5", "v4", "v2", "v0"]
    assert [v.version for v in await versions.history("upscale")] == ["u0"]


async def test_roles_allowed_to_manage_templates_are_per_server(db: Database) -> None:
    managers = TemplateManagerRepository(db)
    assert await managers.allow(1, 100, granted_by=9)
    assert not await managers.allow(1, 100, granted_by=9)
    assert await managers.allow(2, 200, granted_by=9)
    assert await managers.roles(1) == frozenset({100})
    assert await managers.disallow(1, 100)
    assert not await managers.disallow(1, 100)
    assert await managers.roles(1) == frozenset()
    assert await managers.roles(2) == frozenset({200})
