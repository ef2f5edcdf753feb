"""JobRepository queries for moderators: one guild's jobs, filtered, and its counts by state."""

from __future__ import annotations

from bot.jobs import JobState
from bot.storage import JobRepository

from .conftest import FakeClock, MakeJob

S = JobState


async def test_list_for_guild_filters_by_guild_state_and_member_newest_first(
    jobs: JobRepository, make_job: MakeJob, clock: FakeClock
) -> None:
    mine = []
    for user, state in ((30, S.QUEUED), (31, S.PENDING_REVIEW), (30, S.PENDING_REVIEW)):
        clock.advance(1)
        mine.append(await jobs.insert(make_job(user_id=user, state=state, now=clock())))
    await jobs.insert(make_job(guild_id=11, state=S.QUEUED))
    everyone = await jobs.list_for_guild(10)
    assert [j.id for j in everyone] == [j.id for j in reversed(mine)]
    alice = await jobs.list_for_guild(10, user_id=30)
    assert [j.id for j in alice] == [mine[2].id, mine[0].id]
    review = await jobs.list_for_guild(10, states=[S.PENDING_REVIEW], limit=1)
    assert [j.id for j in review] == [mine[2].id]
    assert await jobs.list_for_guild(10, states=[S.DELIVERED]) == []


async def test_count_by_state_in_one_guild(jobs: JobRepository, make_job: MakeJob) -> None:
    await jobs.insert(make_job(state=S.QUEUED))
    await jobs.insert(make_job(state=S.QUEUED))
    await jobs.insert(make_job(state=S.PENDING_REVIEW))
    await jobs.insert(make_job(guild_id=11, state=S.QUEUED))
    assert await jobs.count_by_state(guild_id=10) == {S.QUEUED: 2, S.PENDING_REVIEW: 1}
    assert await jobs.count_by_state() == {S.QUEUED: 3, S.PENDING_REVIEW: 1}
