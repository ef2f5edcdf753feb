"""The terminal progress line: what it says at each stage, and that it redraws only on a terminal."""

from __future__ import annotations

import dataclasses
import io

from bot.cli.progress import ProgressLine, describe
from bot.jobmodel.model import new_job
from bot.jobmodel.states import JobState
from bot.jobs.updates import JobUpdate


def _update(state: JobState, **fields: object) -> JobUpdate:
    job = new_job(
        job_id="AAAAAAAA", guild_id=None, channel_id=0, user_id=0, template="imagine", params={}, now=0
    )
    return JobUpdate(job=dataclasses.replace(job, state=state, backend="gpu1"), **fields)  # type: ignore[arg-type]


def test_describe_each_stage() -> None:
    assert describe(_update(JobState.QUEUED, position=2)) == "queued (position 3)"
    waiting = describe(_update(JobState.QUEUED, waiting_reason="No image server is available"))
    assert waiting.endswith("No image server is available")
    running = describe(_update(JobState.RUNNING, node="KSampler", step=5, steps=20, overall=0.5))
    assert running.startswith("[############............]  50% KSampler step 5/20")
    assert describe(_update(JobState.DISPATCHED)).endswith("waiting on gpu1")
    assert describe(_update(JobState.DELIVERED)) == "delivered"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_redraws_in_place_and_pipes_get_lines() -> None:
    tty = _Tty()
    line = ProgressLine(tty)
    for step in range(1, 4):
        line.show(_update(JobState.RUNNING, node="KSampler", step=step, steps=3, overall=step / 3))
    line.close()
    assert tty.getvalue().count("\r\x1b[2K") == 3
    assert tty.getvalue().endswith("\n")
    pipe = io.StringIO()
    piped = ProgressLine(pipe)
    for step in range(1, 4):
        piped.show(_update(JobState.RUNNING, node="KSampler", step=step, steps=3, overall=step / 3))
    assert "\r" not in pipe.getvalue()
    assert pipe.getvalue().count("\n") <= 3
    quiet = io.StringIO()
    ProgressLine(quiet, enabled=False).show(_update(JobState.RUNNING))
    assert quiet.getvalue() == ""
