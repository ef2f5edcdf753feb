"""Slow observers get fewer, fresher updates; final ones are never dropped or overtaken."""

from __future__ import annotations

import asyncio
import dataclasses

from bot.jobmodel.model import new_job
from bot.jobmodel.states import JobState
from bot.jobs.updates import JobUpdate, UpdateHub


def _job(job_id: str, state: JobState = JobState.QUEUED):
    job = new_job(job_id=job_id, guild_id=1, channel_id=1, user_id=1, template="t", params={}, now=0.0)
    return dataclasses.replace(job, state=state)


def test_progress_is_coalesced_per_job_and_finals_are_kept() -> None:
    hub = UpdateHub()
    box = hub.subscribe()
    for step in range(100):
        hub.publish(JobUpdate(job=_job("AAAAAAAA", JobState.RUNNING), step=step, steps=100))
    hub.publish(JobUpdate(job=_job("BBBBBBBB", JobState.RUNNING), step=1, steps=2))
    hub.publish(JobUpdate(job=_job("AAAAAAAA", JobState.SUCCEEDED)))
    hub.publish(JobUpdate(job=_job("AAAAAAAA", JobState.DELIVERED)))
    items = box.drain()
    assert [(u.job.id, u.state) for u in items] == [
        ("BBBBBBBB", JobState.RUNNING),
        ("AAAAAAAA", JobState.SUCCEEDED),
        ("AAAAAAAA", JobState.DELIVERED),
    ]
    assert box.replaced == 99


def test_newest_progress_wins_and_a_final_is_never_followed_by_older_progress() -> None:
    hub = UpdateHub()
    box = hub.subscribe()
    hub.publish(JobUpdate(job=_job("AAAAAAAA", JobState.RUNNING), step=1))
    hub.publish(JobUpdate(job=_job("AAAAAAAA", JobState.RUNNING), step=7))
    (latest,) = box.drain()
    assert latest.step == 7
    hub.publish(JobUpdate(job=_job("AAAAAAAA", JobState.RUNNING), step=8))
    hub.publish(JobUpdate(job=_job("AAAAAAAA", JobState.FAILED)))
    assert [u.state for u in box.drain()] == [JobState.FAILED]


def test_per_job_subscription_ends_with_the_job() -> None:
    hub = UpdateHub()
    mine = hub.subscribe("AAAAAAAA")
    hub.publish(JobUpdate(job=_job("BBBBBBBB")))
    hub.publish(JobUpdate(job=_job("AAAAAAAA", JobState.CANCELLED)))
    hub.publish(JobUpdate(job=_job("AAAAAAAA")))  # nothing after the end reaches it
    assert [u.state for u in mine.drain()] == [JobState.CANCELLED]


async def test_publishing_never_waits_for_a_slow_reader() -> None:
    hub = UpdateHub()
    box = hub.subscribe()
    started = asyncio.get_running_loop().time()
    for step in range(10_000):
        hub.publish(JobUpdate(job=_job(f"J{step % 10:07d}", JobState.RUNNING), step=step))
    assert asyncio.get_running_loop().time() - started < 5  # generous: the point is it never blocks
    assert len(box.drain()) == 10
