"""Migration 0004: results held before holds were job states are held again after the upgrade."""

from __future__ import annotations

from pathlib import Path

from bot.jobmodel.states import JobState
from bot.storage import Database, DeliveryRepository, JobRepository
from bot.storage.migrate import load_migrations

PENDING, DECIDED, PLAIN = "AAAA2222", "BBBB3333", "CCCC4444"


async def test_pending_legacy_holds_become_held_and_decided_ones_stay_delivered(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    migrations = load_migrations()
    assert [m.version for m in migrations][3] == 4
    async with await Database.open(path, migrations=migrations[:3]) as db:
        deliveries = DeliveryRepository(db)
        for job_id in (PENDING, DECIDED, PLAIN):
            # As the old code left them: delivered (a notice standing in for held images).
            await db.execute(
                "INSERT INTO jobs (id, guild_id, channel_id, user_id, template, params, state, created_at,"
                " updated_at) VALUES (?, 5, 10, 1, 'imagine', '{}', 'delivered', 1.0, 1.0)",
                (job_id,),
            )
        for job_id in (PENDING, DECIDED):
            await deliveries.record_delivery(job_id, "output_hold", channel_id=20, message_ids=[7])
        await deliveries.record_delivery(DECIDED, "output_decision", channel_id=20, message_ids=[7])
    async with await Database.open(path, migrations=migrations) as db:
        jobs = JobRepository(db)
        states = {j: (await jobs.require(j)).state for j in (PENDING, DECIDED, PLAIN)}
        assert states == {PENDING: JobState.HELD, DECIDED: JobState.DELIVERED, PLAIN: JobState.DELIVERED}
        assert (await jobs.require(PLAIN)).age_restricted is None  # not recorded before 0004
