"""A reduced soak in the test suite: the full one is `python -m bench.soak_bench`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.soak.soak import run_soak


@pytest.mark.timeout(240)
async def test_reduced_soak_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    report = await run_soak(tmp_path, jobs=80, users=16, backends=3, kills=2, seed=7, settle_timeout=120)
    summary = report.as_dict()
    assert report.kills == 2, summary
    assert report.jobs_created + report.commands_refused + report.commands_unanswered == 80, summary
    assert report.jobs_lost == 0, summary
    assert report.jobs_duplicated == 0, summary
    assert report.jobs_stuck == 0, summary
    assert report.unseen_endings == 0, summary
    assert report.states.get("failed", 0) >= 1, summary  # the injected failures ended visibly
    assert report.metrics_mismatches == [], summary
    assert report.discord_429_unprovoked == 0, summary
    assert report.rss_mb["end"] - report.rss_mb["start"] < 40, summary
