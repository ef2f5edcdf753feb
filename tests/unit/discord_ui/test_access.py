"""How the Discord layer describes a job to the access rule."""

from __future__ import annotations

import dataclasses

import pytest

from bot.discord_ui.access import RESULTS, subject_of
from bot.jobmodel.model import Job, new_job
from bot.jobmodel.states import JobState
from bot.moderation.access import Results


def _job(state: JobState, age_restricted: bool | None = False) -> Job:
    job = new_job(
        job_id="ABCD1234",
        guild_id=5,
        channel_id=10,
        user_id=1,
        template="imagine",
        params={},
        now=0.0,
        age_restricted=age_restricted,
    )
    return dataclasses.replace(job, state=state)


@pytest.mark.parametrize("state", list(JobState))
def test_only_delivered_results_count_as_shown(state: JobState) -> None:
    subject = subject_of(_job(state))
    expected = {
        JobState.DELIVERED: Results.DELIVERED,
        JobState.HELD: Results.HELD,
        JobState.WITHHELD: Results.WITHHELD,
    }.get(state, Results.NONE)
    assert subject.results is expected
    assert (subject.job_id, subject.guild_id, subject.owner_id) == ("ABCD1234", 5, 1)
    assert subject.state_words


def test_every_state_with_results_somewhere_is_mapped() -> None:
    assert set(RESULTS) == {JobState.DELIVERED, JobState.HELD, JobState.WITHHELD}


def test_where_a_job_was_made_decides_and_unknown_is_the_safe_side() -> None:
    assert subject_of(_job(JobState.DELIVERED, True)).made_in_nsfw
    assert not subject_of(_job(JobState.DELIVERED, False)).made_in_nsfw
    # Stored before it was recorded, and the bot cannot see the channel: treated as age-restricted.
    assert subject_of(_job(JobState.DELIVERED, None), client=None).made_in_nsfw
