"""AuditRepository: append, filter, and keep entries after their job is gone."""

from __future__ import annotations

from bot.storage import AuditRepository, Database, JobRepository

from .conftest import FakeClock, MakeJob


async def test_record_and_read_back(db: Database, clock: FakeClock) -> None:
    audit = AuditRepository(db)
    first = await audit.record("ban", guild_id=1, actor_id=7, target_id=42, details={"reason": "spam"})
    clock.advance(1)
    second = await audit.record("approve", guild_id=1, actor_id=7, job_id="AAAAAAAA")
    clock.advance(1)
    await audit.record("ban", guild_id=2, actor_id=8, target_id=43)
    assert second > first

    recent = await audit.recent(guild_id=1)
    assert [e.action for e in recent] == ["approve", "ban"]
    assert recent[1].details == {"reason": "spam"}
    assert recent[1].target_id == 42
    assert [e.guild_id for e in await audit.recent(action="ban")] == [2, 1]
    assert len(await audit.recent()) == 3
    assert len(await audit.recent(limit=1)) == 1


async def test_entries_outlive_their_job(db: Database, jobs: JobRepository, make_job: MakeJob) -> None:
    audit = AuditRepository(db)
    job = await jobs.insert(make_job())
    await audit.record("reject", job_id=job.id, details={"why": "filter"})
    await db.execute("DELETE FROM jobs WHERE id = ?", (job.id,))
    entries = await audit.for_job(job.id)
    assert [(e.action, e.job_id) for e in entries] == [("reject", job.id)]


async def test_prune_before_removes_only_older_entries(db: Database, clock: FakeClock) -> None:
    heard: list[str] = []
    audit = AuditRepository(db, on_record=heard.append)
    await audit.record("old")
    clock.advance(10)
    cutoff = clock()
    await audit.record("at the cutoff")
    clock.advance(10)
    await audit.record("new")
    assert await audit.prune_before(cutoff) == 1
    assert [e.action for e in await audit.recent()] == ["new", "at the cutoff"]
    assert heard == ["old", "at the cutoff", "new"]
