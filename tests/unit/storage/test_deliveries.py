"""DeliveryRepository: one record per job and kind, whatever the retries."""

from __future__ import annotations

import asyncio

import pytest

from bot.jobs import JobState
from bot.storage import Database, DeliveryKind, DeliveryRepository, JobRepository

from .conftest import FakeClock, MakeJob


@pytest.fixture
def deliveries(db: Database) -> DeliveryRepository:
    return DeliveryRepository(db)


async def test_record_is_idempotent(
    deliveries: DeliveryRepository, jobs: JobRepository, make_job: MakeJob, clock: FakeClock
) -> None:
    job = await jobs.insert(make_job())
    assert await deliveries.record_delivery(job.id, DeliveryKind.RESULT, channel_id=20, message_ids=[7, 8])
    first_at = clock()
    clock.advance(30)
    assert not await deliveries.record_delivery(job.id, DeliveryKind.RESULT, channel_id=99, message_ids=[9])
    stored = await deliveries.get(job.id, DeliveryKind.RESULT)
    assert stored is not None
    # The first record wins: a retry never rewrites where the results went.
    assert (stored.channel_id, stored.message_ids, stored.delivered_at) == (20, (7, 8), first_at)


async def test_concurrent_records_store_one(
    deliveries: DeliveryRepository, jobs: JobRepository, make_job: MakeJob
) -> None:
    job = await jobs.insert(make_job())
    recorded = await asyncio.gather(
        *(deliveries.record_delivery(job.id, "result", channel_id=20, message_ids=[i]) for i in range(5))
    )
    assert sorted(recorded) == [False, False, False, False, True]
    assert len(await deliveries.list_for_job(job.id)) == 1


async def test_was_delivered_is_per_kind(
    deliveries: DeliveryRepository, jobs: JobRepository, make_job: MakeJob
) -> None:
    job = await jobs.insert(make_job())
    assert not await deliveries.was_delivered(job.id, DeliveryKind.STATUS)
    await deliveries.record_delivery(job.id, DeliveryKind.STATUS, channel_id=None)
    assert await deliveries.was_delivered(job.id, DeliveryKind.STATUS)
    assert not await deliveries.was_delivered(job.id, DeliveryKind.RESULT)
    assert await deliveries.get(job.id, DeliveryKind.RESULT) is None


async def test_list_for_job(
    deliveries: DeliveryRepository, jobs: JobRepository, make_job: MakeJob, clock: FakeClock
) -> None:
    job = await jobs.insert(make_job())
    await deliveries.record_delivery(job.id, DeliveryKind.STATUS, channel_id=1, message_ids=[1])
    clock.advance(1)
    await deliveries.record_delivery(job.id, DeliveryKind.RESULT, channel_id=1, message_ids=[2, 3])
    listed = await deliveries.list_for_job(job.id)
    assert [(d.kind, d.message_ids) for d in listed] == [("status", (1,)), ("result", (2, 3))]


async def test_delivery_and_state_change_commit_together(
    db: Database, deliveries: DeliveryRepository, jobs: JobRepository, make_job: MakeJob
) -> None:
    job = await jobs.insert(make_job())
    await jobs.transition(job.id, JobState.QUEUED, JobState.DISPATCHED, backend="b")
    await jobs.transition(job.id, JobState.DISPATCHED, JobState.SUCCEEDED)

    async def crash_before_commit() -> None:
        async with db.transaction():
            await deliveries.record_delivery(job.id, DeliveryKind.RESULT, channel_id=20, message_ids=[1])
            await jobs.transition(job.id, JobState.SUCCEEDED, JobState.DELIVERED)
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        await crash_before_commit()
    assert not await deliveries.was_delivered(job.id, DeliveryKind.RESULT)
    assert (await jobs.require(job.id)).state is JobState.SUCCEEDED
    async with db.transaction():
        await deliveries.record_delivery(job.id, DeliveryKind.RESULT, channel_id=20, message_ids=[1])
        await jobs.transition(job.id, JobState.SUCCEEDED, JobState.DELIVERED)
    assert (await jobs.require(job.id)).state is JobState.DELIVERED
