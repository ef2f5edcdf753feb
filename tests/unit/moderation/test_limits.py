"""Role overrides and the UTC quota day."""

from __future__ import annotations

import datetime as dt

from bot.jobs import DEFAULT_LANE as JOBS_DEFAULT_LANE
from bot.moderation.limits import (
    DEFAULT_LANE,
    LANES,
    PRIORITY_LANE,
    Limits,
    RoleLimits,
    merge_limits,
    next_reset,
    utc_day,
)
from bot.moderation.settings import GuildPolicy

BASE = Limits(max_queued=3, cooldown_seconds=10, daily_jobs=100, daily_gpu_seconds=600)


def test_lane_names_match_the_scheduler() -> None:
    assert DEFAULT_LANE == JOBS_DEFAULT_LANE
    assert LANES == (PRIORITY_LANE, DEFAULT_LANE)


def test_no_overrides_keep_the_server_limits() -> None:
    assert merge_limits(BASE, []) == BASE
    assert merge_limits(BASE, [RoleLimits()]) == BASE
    assert RoleLimits().is_empty()


def test_an_override_replaces_only_what_it_names() -> None:
    merged = merge_limits(BASE, [RoleLimits(lane=PRIORITY_LANE, daily_jobs=300)])
    assert merged == Limits(PRIORITY_LANE, 3, 10, 300, 600)


def test_overrides_may_be_stricter() -> None:
    assert merge_limits(BASE, [RoleLimits(daily_jobs=5)]).daily_jobs == 5


def test_the_most_generous_role_wins() -> None:
    merged = merge_limits(
        BASE,
        [
            RoleLimits(daily_jobs=200, cooldown_seconds=5, max_queued=5),
            RoleLimits(daily_jobs=0, cooldown_seconds=30, lane=DEFAULT_LANE),
            RoleLimits(lane=PRIORITY_LANE, max_queued=4),
        ],
    )
    assert merged == Limits(
        PRIORITY_LANE, max_queued=5, cooldown_seconds=5, daily_jobs=0, daily_gpu_seconds=600
    )


def test_policy_limits_for_roles() -> None:
    policy = GuildPolicy(role_overrides={7: RoleLimits(lane=PRIORITY_LANE, daily_gpu_seconds=3600)})
    assert policy.limits_for({1, 2}).lane == DEFAULT_LANE
    boosted = policy.limits_for({1, 7})
    assert (boosted.lane, boosted.daily_gpu_seconds, boosted.daily_jobs) == (PRIORITY_LANE, 3600, 100)


def test_the_quota_day_is_the_utc_date() -> None:
    before = dt.datetime(2025, 3, 1, 23, 59, 59, tzinfo=dt.UTC).timestamp()
    assert utc_day(before) == dt.date(2025, 3, 1)
    assert utc_day(before + 1) == dt.date(2025, 3, 2)
    # 01:00 in UTC+2 is still the previous day in UTC.
    local = dt.datetime(2025, 3, 2, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))).timestamp()
    assert utc_day(local) == dt.date(2025, 3, 1)


def test_next_reset_is_the_next_utc_midnight() -> None:
    noon = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC).timestamp()
    midnight = dt.datetime(2025, 3, 2, tzinfo=dt.UTC).timestamp()
    assert next_reset(noon) == midnight
    assert next_reset(midnight) == midnight + 86_400
    assert next_reset(midnight - 0.5) == midnight
