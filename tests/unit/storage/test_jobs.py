"""JobRepository: round trips, state-checked transitions, and the queries the engine relies on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.errors import JobNotFound
from bot.jobs import IllegalTransition, InputRef, JobState, MessageRef
from bot.storage import Database, DeliveryKind, DeliveryRepository, JobRepository, StorageError

from .conftest import FakeClock, MakeJob

S = JobState


async def test_insert_and_get_round_trip(jobs: JobRepository, make_job: MakeJob, tmp_path: Path) -> None:
    inputs = (
        InputRef("image", tmp_path / "a.png", "aa" * 32, "cat.png"),
        InputRef("mask", tmp_path / "b.png", "bb" * 32, "mask.png"),
    )
    job = make_job(
        guild_id=None,
        inputs=inputs,
        lane="review",
        status_message=MessageRef(20, None),
        params={"prompt": "x", "seed": 7, "size": {"width": 512}, "tags": ["a", "b"]},
    )
    await jobs.insert(job)
    assert await jobs.get(job.id) == job


async def test_get_accepts_what_a_member_types(jobs: JobRepository, make_job: MakeJob) -> None:
    job = await jobs.insert(make_job(job_id="AB1C0DEF"))
    assert await jobs.get("ab1c-odef") == job
    assert await jobs.get("not an id") is None
    assert await jobs.get("ZZZZZZZZ") is None


async def test_require_raises_job_not_found(jobs: JobRepository) -> None:
    with pytest.raises(JobNotFound):
        await jobs.require("ZZZZZZZZ")


async def test_duplicate_ids_are_refused(jobs: JobRepository, make_job: MakeJob) -> None:
    await jobs.insert(make_job(job_id="AAAAAAAA"))
    with pytest.raises(StorageError, match="already exists"):
        await jobs.insert(make_job(job_id="AAAAAAAA"))


async def test_new_id_is_unused(
    jobs: JobRepository, make_job: MakeJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    await jobs.insert(make_job(job_id="00000000"))
    drawn = iter([0, 0, 1])  # the first two draws collide with the stored job
    monkeypatch.setattr("bot.storage.jobs.new_job_id", lambda: f"{next(drawn):08d}")
    assert await jobs.new_id() == "00000001"


async def test_transition_persists_and_stamps(
    jobs: JobRepository, make_job: MakeJob, clock: FakeClock
) -> None:
    job = await jobs.insert(make_job())
    clock.advance(5)
    dispatched = await jobs.transition(job.id, S.QUEUED, S.DISPATCHED, backend="http://gpu1")
    assert dispatched.state is S.DISPATCHED
    assert dispatched.attempts == 1
    assert dispatched.backend == "http://gpu1"
    assert dispatched.updated_at == clock()
    clock.advance(1)
    running = await jobs.transition(job.id, S.DISPATCHED, S.RUNNING, prompt_id="p-1")
    assert running.started_at == clock()
    clock.advance(10)
    done = await jobs.transition(job.id, [S.RUNNING, S.DISPATCHED], S.SUCCEEDED)
    assert done.finished_at == clock()
    assert await jobs.get(job.id) == done


async def test_requeue_forgets_the_backend(jobs: JobRepository, make_job: MakeJob) -> None:
    job = await jobs.insert(make_job())
    await jobs.transition(job.id, S.QUEUED, S.DISPATCHED, backend="http://gpu1", prompt_id="p")
    await jobs.transition(job.id, S.DISPATCHED, S.RUNNING)
    again = await jobs.transition(job.id, S.RUNNING, S.QUEUED)
    assert (again.backend, again.prompt_id, again.started_at) == (None, None, None)
    second = await jobs.transition(job.id, S.QUEUED, S.DISPATCHED, backend="http://gpu2")
    assert second.attempts == 2


async def test_illegal_move_is_refused_and_nothing_changes(jobs: JobRepository, make_job: MakeJob) -> None:
    job = await jobs.insert(make_job())
    with pytest.raises(IllegalTransition) as caught:
        await jobs.transition(job.id, S.QUEUED, S.DELIVERED)
    assert (caught.value.current, caught.value.target) == (S.QUEUED, S.DELIVERED)
    assert await jobs.get(job.id) == job


async def test_stale_expectation_is_refused(jobs: JobRepository, make_job: MakeJob) -> None:
    job = await jobs.insert(make_job())
    await jobs.transition(job.id, S.QUEUED, S.CANCELLED)
    with pytest.raises(IllegalTransition) as caught:
        # Legal from QUEUED, but the job is not QUEUED any more.
        await jobs.transition(job.id, S.QUEUED, S.DISPATCHED, backend="b")
    assert caught.value.current is S.CANCELLED
    assert "already cancelled" in caught.value.user_message


async def test_transition_of_a_missing_job(jobs: JobRepository) -> None:
    with pytest.raises(JobNotFound):
        await jobs.transition("ZZZZZZZZ", S.QUEUED, S.CANCELLED)


async def test_racing_transitions_have_one_winner(jobs: JobRepository, make_job: MakeJob) -> None:
    job = await jobs.insert(make_job())
    results = await asyncio.gather(
        *(jobs.transition(job.id, S.QUEUED, S.DISPATCHED, backend=f"gpu{i}") for i in range(8)),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(e, IllegalTransition) for e in losers)
    stored = await jobs.require(job.id)
    assert stored == winners[0]
    assert stored.attempts == 1


async def test_racing_connections_have_one_winner(
    db: Database, db_path: Path, make_job: MakeJob, clock: FakeClock
) -> None:
    # A second connection to the same file, as the CLI would open while the bot runs.
    async with await Database.open(db_path, clock=clock) as other:
        mine, theirs = JobRepository(db), JobRepository(other)
        job = await mine.insert(make_job())
        results = await asyncio.gather(
            mine.transition(job.id, S.QUEUED, S.DISPATCHED, backend="mine"),
            theirs.transition(job.id, S.QUEUED, S.CANCELLED),
            return_exceptions=True,
        )
        winners = [r for r in results if not isinstance(r, BaseException)]
        assert len(winners) == 1
        assert sum(isinstance(r, IllegalTransition) for r in results) == 1
        assert await theirs.require(job.id) == winners[0]


async def test_update_changes_bookkeeping_only(
    jobs: JobRepository, make_job: MakeJob, clock: FakeClock
) -> None:
    job = await jobs.insert(make_job())
    clock.advance(3)
    updated = await jobs.update(job.id, status_message=MessageRef(20, 555))
    assert updated.state is S.QUEUED
    assert updated.status_message == MessageRef(20, 555)
    assert updated.updated_at == clock()
    assert await jobs.get(job.id) == updated


async def test_update_can_require_a_state(jobs: JobRepository, make_job: MakeJob) -> None:
    job = await jobs.insert(make_job())
    await jobs.transition(job.id, S.QUEUED, S.DISPATCHED, backend="b")
    with pytest.raises(IllegalTransition):
        await jobs.update(job.id, expected=S.QUEUED, prompt_id="late")
    ok = await jobs.update(job.id, expected=S.DISPATCHED, prompt_id="p-9")
    assert ok.prompt_id == "p-9"


async def test_list_by_state_keeps_queue_order(
    jobs: JobRepository, make_job: MakeJob, clock: FakeClock
) -> None:
    # Same timestamp for all: insertion order must still decide.
    ids = [(await jobs.insert(make_job())).id for _ in range(5)]
    await jobs.transition(ids[1], S.QUEUED, S.DISPATCHED, backend="b")
    queued = await jobs.list_by_state(S.QUEUED)
    assert [j.id for j in queued] == [ids[0], ids[2], ids[3], ids[4]]
    both = await jobs.list_by_state(S.QUEUED, S.DISPATCHED)
    assert [j.id for j in both] == ids
    assert [j.id for j in await jobs.list_by_state(S.QUEUED, limit=2)] == [ids[0], ids[2]]
    assert await jobs.list_by_state() == []


async def test_lists_for_a_user(jobs: JobRepository, make_job: MakeJob, clock: FakeClock) -> None:
    mine = []
    for _ in range(3):
        mine.append(await jobs.insert(make_job(user_id=1)))
        clock.advance(1)
    await jobs.insert(make_job(user_id=2))
    await jobs.transition(mine[0].id, S.QUEUED, S.CANCELLED)
    assert [j.id for j in await jobs.list_by_user(1)] == [j.id for j in mine]
    open_ones = await jobs.list_by_user(1, states=[S.QUEUED])
    assert [j.id for j in open_ones] == [mine[1].id, mine[2].id]
    recent = await jobs.recent_for_user(1, limit=2)
    assert [j.id for j in recent] == [mine[2].id, mine[1].id]


async def test_counts(jobs: JobRepository, make_job: MakeJob) -> None:
    a = await jobs.insert(make_job(user_id=1))
    await jobs.insert(make_job(user_id=1, state=S.PENDING_REVIEW))
    await jobs.insert(make_job(user_id=2))
    done = await jobs.insert(make_job(user_id=1))
    await jobs.transition(a.id, S.QUEUED, S.DISPATCHED, backend="b")
    await jobs.transition(done.id, S.QUEUED, S.FAILED, failure_reason="no")
    assert await jobs.count_waiting() == 3
    assert await jobs.count_waiting(user_id=1) == 2
    assert await jobs.count_waiting(user_id=1, states=[S.QUEUED, S.PENDING_REVIEW]) == 1
    assert await jobs.count_by_state() == {S.DISPATCHED: 1, S.PENDING_REVIEW: 1, S.QUEUED: 1, S.FAILED: 1}


async def test_list_unnotified(db: Database, jobs: JobRepository, make_job: MakeJob) -> None:
    deliveries = DeliveryRepository(db)
    failed = await jobs.insert(make_job())
    told = await jobs.insert(make_job())
    await jobs.insert(make_job())  # still queued: nothing to tell yet
    for job in (failed, told):
        await jobs.transition(job.id, S.QUEUED, S.FAILED, failure_reason="The server is gone.")
    await deliveries.record_delivery(told.id, DeliveryKind.STATUS, channel_id=20, message_ids=[1])
    assert [j.id for j in await jobs.list_unnotified()] == [failed.id]


async def test_ended_before(jobs: JobRepository, make_job: MakeJob, clock: FakeClock) -> None:
    old = await jobs.insert(make_job())
    young = await jobs.insert(make_job())
    running = await jobs.insert(make_job())
    await jobs.transition(old.id, S.QUEUED, S.CANCELLED)
    await jobs.transition(running.id, S.QUEUED, S.DISPATCHED, backend="b")
    cutoff = clock.advance(100)
    await jobs.transition(young.id, S.QUEUED, S.CANCELLED)
    assert await jobs.ended_before(cutoff) == [old.id]


async def test_deleting_a_job_cascades(
    db: Database, jobs: JobRepository, make_job: MakeJob, tmp_path: Path
) -> None:
    job = await jobs.insert(make_job(inputs=[InputRef("image", tmp_path / "a.png", "aa", "a.png")]))
    await db.execute("DELETE FROM jobs WHERE id = ?", (job.id,))
    row = await db.fetch_one("SELECT COUNT(*) FROM job_inputs")
    assert row is not None
    assert row[0] == 0
