"""Usage limits: per-role overrides, the limits that apply to one member, and the UTC quota day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Final

from bot.moderation.durations import human_duration

DEFAULT_LANE: Final = "default"
PRIORITY_LANE: Final = "priority"
LANES: Final = (PRIORITY_LANE, DEFAULT_LANE)
"""Scheduler lanes a role may put its members in, highest priority first (bot.jobs uses the same names)."""

DAY: Final = 86_400.0


@dataclass(frozen=True, slots=True)
class RoleLimits:
    """What one role changes for its members; None keeps the server's setting.

    For the numbers, 0 means no limit, as in the server settings.
    """

    lane: str | None = None
    max_queued: int | None = None
    cooldown_seconds: int | None = None
    daily_jobs: int | None = None
    daily_gpu_seconds: int | None = None

    def is_empty(self) -> bool:
        """Whether the override changes nothing."""
        return all(getattr(self, f.name) is None for f in fields(self))


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits that apply to one member's request; 0 means no limit."""

    lane: str = DEFAULT_LANE
    max_queued: int = 0
    cooldown_seconds: int = 0
    daily_jobs: int = 0
    daily_gpu_seconds: int = 0


def _generous_cap(values: list[int]) -> int:
    # 0 is "no limit", the most generous cap of all.
    return 0 if 0 in values else max(values)


def merge_limits(base: Limits, overrides: Iterable[RoleLimits]) -> Limits:
    """Apply the overrides of a member's roles to the server's limits.

    A limit some of the member's roles override comes from those roles only, and the most generous
    of them wins (a member with a booster role and a staff role gets the better of the two); an
    override may also be stricter than the server's value. The lane is the highest one any role gives.
    """
    overrides = list(overrides)

    def pick_cap(name: str) -> int:
        values = [v for o in overrides if (v := getattr(o, name)) is not None]
        return _generous_cap(values) if values else int(getattr(base, name))

    cooldowns = [o.cooldown_seconds for o in overrides if o.cooldown_seconds is not None]
    lanes = {o.lane for o in overrides if o.lane is not None}
    lane = next((name for name in LANES if name in lanes), base.lane)
    return Limits(
        lane=lane,
        max_queued=pick_cap("max_queued"),
        cooldown_seconds=min(cooldowns) if cooldowns else base.cooldown_seconds,
        daily_jobs=pick_cap("daily_jobs"),
        daily_gpu_seconds=pick_cap("daily_gpu_seconds"),
    )


def utc_day(now: float) -> dt.date:
    """The quota day ``now`` falls in: quotas reset at 00:00 UTC."""
    return dt.datetime.fromtimestamp(now, dt.UTC).date()


def next_reset(now: float) -> float:
    """When the quota day after ``now`` starts (a UNIX timestamp)."""
    tomorrow = utc_day(now) + dt.timedelta(days=1)
    return dt.datetime.combine(tomorrow, dt.time(), dt.UTC).timestamp()


@dataclass(frozen=True, slots=True)
class LimitRefusal:
    """Why a member's request goes over one of their limits; ``rule`` names it for logs and audit."""

    rule: str
    message: str
    retry_after: float | None = None


def check_limits(
    limits: Limits,
    *,
    open_jobs: int,
    last_job_at: float | None,
    jobs_today: int,
    gpu_seconds_today: float,
    now: float,
) -> LimitRefusal | None:
    """The one check of a member's limits; the job engine runs it in the transaction that stores the job.

    ``open_jobs`` are the member's jobs waiting or running, ``last_job_at`` when they last asked for one,
    the two ``today`` figures their usage of the current UTC day.
    """
    if limits.max_queued and open_jobs >= limits.max_queued:
        return LimitRefusal(
            "queue_limit",
            f"You already have {open_jobs} job(s) waiting or running (the limit is "
            f"{limits.max_queued}). Wait for one to finish or cancel one, then try again.",
        )
    if limits.cooldown_seconds and last_job_at is not None:
        wait = last_job_at + limits.cooldown_seconds - now
        if wait > 0:
            return LimitRefusal(
                "cooldown", f"Please wait {human_duration(wait)} before your next request.", wait
            )
    reset_in = next_reset(now) - now
    if limits.daily_jobs and jobs_today >= limits.daily_jobs:
        return LimitRefusal(
            "daily_jobs",
            f"You've used all {limits.daily_jobs} of your jobs for today. "
            f"The quota resets at 00:00 UTC, in {human_duration(reset_in)}.",
            reset_in,
        )
    if limits.daily_gpu_seconds and gpu_seconds_today >= limits.daily_gpu_seconds:
        return LimitRefusal(
            "daily_gpu",
            f"You've used all {limits.daily_gpu_seconds} GPU seconds of your quota for today. "
            f"It resets at 00:00 UTC, in {human_duration(reset_in)}.",
            reset_in,
        )
    return None
