"""decide: every rule, in order; evaluate: bans and quotas read from the database."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from bot.moderation.filters import FilterAction
from bot.moderation.limits import DAY, PRIORITY_LANE, RoleLimits, check_limits, utc_day
from bot.moderation.policy import Outcome, RequestContext, Rule, decide, evaluate, is_new_member
from bot.moderation.settings import GuildPolicy, ReviewMode
from bot.storage import Ban, BanRepository, Database, QuotaRepository

from .conftest import FakeClock

NOW = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC).timestamp()
GUILD, CHANNEL, NSFW_CHANNEL, USER, MOD = 1, 10, 11, 100, 200


def request(**changes: Any) -> RequestContext:
    base = RequestContext(
        guild_id=GUILD,
        channel_id=CHANNEL,
        user_id=USER,
        template="imagine",
        texts={"prompt": "a lighthouse at dusk"},
        role_ids=frozenset({5}),
        account_created_at=NOW - 400 * DAY,
        member_joined_at=NOW - 100 * DAY,
    )
    return dataclasses.replace(base, **changes)


def ban(until: float | None = None, reason: str = "spam", guild_id: int | None = GUILD) -> Ban:
    return Ban(guild_id, USER, until, reason, MOD, NOW - 10)


POLICY = GuildPolicy()


def test_an_ordinary_request_is_allowed() -> None:
    decision = decide(request(), POLICY, NOW)
    assert decision.allowed
    assert not decision.held
    assert not decision.refused
    assert (decision.outcome, decision.rule, decision.message, decision.lane) == (
        Outcome.ALLOW,
        None,
        "",
        "default",
    )
    assert decision.verdict.allowed


# --- bans -----------------------------------------------------------------------------------------


def test_a_ban_refuses_and_says_for_how_long() -> None:
    decision = decide(request(), POLICY, NOW, ban=ban())
    assert (decision.outcome, decision.rule) == (Outcome.REFUSE, Rule.BANNED)
    assert (
        decision.message == "You are banned from using the bot here until a moderator lifts it. Reason: spam"
    )
    timed = decide(request(), POLICY, NOW, ban=ban(until=NOW + 3600, reason=""))
    assert timed.message == (
        "You are banned from using the bot here until 2025-03-01 13:00 UTC (1 h 00 min from now)."
    )


def test_an_expired_ban_no_longer_applies() -> None:
    assert decide(request(), POLICY, NOW, ban=ban(until=NOW)).allowed


def test_moderators_are_not_exempt_from_bans() -> None:
    assert decide(request(is_moderator=True), POLICY, NOW, ban=ban()).rule is Rule.BANNED


# --- where and by whom ---------------------------------------------------------------------------------


def test_the_channel_allow_list() -> None:
    policy = GuildPolicy(allowed_channels=frozenset({20, 21}))
    decision = decide(request(), policy, NOW)
    assert decision.rule is Rule.CHANNEL_NOT_ALLOWED
    assert decision.message == "The bot can't be used in this channel. Try <#20>, <#21>."
    assert decide(request(channel_id=21), policy, NOW).allowed
    assert decide(request(is_moderator=True), policy, NOW).allowed
    strict = dataclasses.replace(policy, moderators_exempt=False)
    assert decide(request(is_moderator=True), strict, NOW).refused


def test_template_channels() -> None:
    policy = GuildPolicy(template_channels={"upscale": frozenset({30})})
    decision = decide(request(template="upscale"), policy, NOW)
    assert decision.rule is Rule.TEMPLATE_CHANNEL
    assert decision.message == "`/upscale` can only be used in <#30>."
    assert decide(request(template="upscale", channel_id=30), policy, NOW).allowed
    assert decide(request(template="imagine"), policy, NOW).allowed


def test_template_roles() -> None:
    policy = GuildPolicy(template_roles={"video": frozenset({8, 9})})
    decision = decide(request(template="video"), policy, NOW)
    assert decision.rule is Rule.TEMPLATE_ROLE
    assert decision.message == "`/video` needs one of these roles: <@&8>, <@&9>."
    assert decide(request(template="video", role_ids=frozenset({9})), policy, NOW).allowed
    assert decide(request(template="video", is_moderator=True), policy, NOW).allowed


def test_nsfw_templates_only_in_age_restricted_channels() -> None:
    decision = decide(request(template="spicy", template_nsfw=True), POLICY, NOW)
    assert decision.rule is Rule.NSFW_CHANNEL
    assert "age-restricted" in decision.message
    assert decide(
        request(template_nsfw=True, channel_nsfw=True, channel_id=NSFW_CHANNEL), POLICY, NOW
    ).allowed
    # Discord's rule, not the server's: moderators are not exempt.
    assert decide(request(template_nsfw=True, is_moderator=True), POLICY, NOW).refused
    # An ordinary template is fine in an age-restricted channel.
    assert decide(request(channel_nsfw=True), POLICY, NOW).allowed


# --- filters ---------------------------------------------------------------------------------------


def test_a_blocked_term_refuses_even_moderators() -> None:
    policy = GuildPolicy(blocked_terms=("gore",))
    for ctx in (request(texts={"prompt": "g0re"}), request(texts={"prompt": "gore"}, is_moderator=True)):
        decision = decide(ctx, policy, NOW)
        assert decision.rule is Rule.FILTER_BLOCK
        assert decision.verdict.action is FilterAction.BLOCK
        assert decision.message == decision.verdict.reason_for_user
        assert "gore" not in decision.message


# --- limits ------------------------------------------------------------------------------------------
# The policy only says which limits apply (Decision.limits); the engine checks them with check_limits
# in the transaction that stores the job.


def limits_refusal(policy: GuildPolicy, ctx: RequestContext | None = None, **facts: Any) -> Any:
    decision = decide(ctx or request(), policy, NOW)
    assert not decision.refused
    values = {"open_jobs": 0, "last_job_at": None, "jobs_today": 0, "gpu_seconds_today": 0.0, **facts}
    return check_limits(decision.limits, now=NOW, **values)


def test_queue_limit() -> None:
    policy = GuildPolicy(max_queued_per_user=2)
    assert limits_refusal(policy, open_jobs=1) is None
    refusal = limits_refusal(policy, open_jobs=2)
    assert refusal.rule == Rule.QUEUE_LIMIT
    assert "the limit is 2" in refusal.message
    assert limits_refusal(GuildPolicy(max_queued_per_user=0), open_jobs=50) is None
    boosted = GuildPolicy(max_queued_per_user=2, role_overrides={5: RoleLimits(max_queued=5)})
    assert limits_refusal(boosted, open_jobs=4) is None


def test_cooldown() -> None:
    policy = GuildPolicy(cooldown_seconds=30)
    refusal = limits_refusal(policy, last_job_at=NOW - 10)
    assert refusal.rule == Rule.COOLDOWN
    assert refusal.retry_after == pytest.approx(20)
    assert refusal.message == "Please wait 20 seconds before your next request."
    assert limits_refusal(policy, last_job_at=NOW - 30) is None
    assert limits_refusal(policy, last_job_at=None) is None
    assert limits_refusal(GuildPolicy(cooldown_seconds=0), last_job_at=NOW) is None


def test_daily_job_quota() -> None:
    policy = GuildPolicy(daily_jobs=3)
    assert limits_refusal(policy, jobs_today=2) is None
    refusal = limits_refusal(policy, jobs_today=3)
    assert refusal.rule == Rule.DAILY_JOBS
    assert refusal.retry_after == pytest.approx(12 * 3600)
    assert refusal.message == (
        "You've used all 3 of your jobs for today. The quota resets at 00:00 UTC, in 12 h 00 min."
    )
    assert limits_refusal(GuildPolicy(daily_jobs=0), jobs_today=10_000) is None


def test_daily_gpu_quota() -> None:
    policy = GuildPolicy(daily_gpu_seconds=600)
    assert limits_refusal(policy, gpu_seconds_today=599.5) is None
    refusal = limits_refusal(policy, gpu_seconds_today=600)
    assert refusal.rule == Rule.DAILY_GPU
    assert "600 GPU seconds" in refusal.message


def test_role_overrides_raise_quotas_and_pick_the_lane() -> None:
    policy = GuildPolicy(daily_jobs=3, role_overrides={7: RoleLimits(lane=PRIORITY_LANE, daily_jobs=300)})
    member = decide(request(), policy, NOW)
    assert member.lane == "default"
    assert limits_refusal(policy, jobs_today=3) is not None
    booster_ctx = request(role_ids=frozenset({5, 7}))
    booster = decide(booster_ctx, policy, NOW)
    assert booster.lane == PRIORITY_LANE
    assert booster.limits.daily_jobs == 300
    assert limits_refusal(policy, booster_ctx, jobs_today=3) is None


def test_moderators_are_exempt_from_limits_unless_switched_off() -> None:
    policy = GuildPolicy(max_queued_per_user=1, cooldown_seconds=60, daily_jobs=1)
    ctx = request(is_moderator=True)
    facts = {"open_jobs": 5, "last_job_at": NOW - 1, "jobs_today": 9}
    assert limits_refusal(policy, ctx, **facts) is None
    strict = dataclasses.replace(policy, moderators_exempt=False)
    assert limits_refusal(strict, ctx, **facts).rule == Rule.QUEUE_LIMIT


# --- review --------------------------------------------------------------------------------------------

FLAGGED_TEXT = {"prompt": "a swimsuit at the beach"}


def review_policy(mode: ReviewMode, **changes: Any) -> GuildPolicy:
    return GuildPolicy(review_mode=mode, review_terms=("swimsuit",), **changes)


def test_review_off_lets_clean_prompts_through_and_refuses_flagged_ones() -> None:
    policy = review_policy(ReviewMode.OFF)
    assert decide(request(account_created_at=NOW), policy, NOW).allowed
    decision = decide(request(texts=FLAGGED_TEXT), policy, NOW)
    assert decision.rule is Rule.REVIEW_DISABLED
    assert decision.refused
    assert "`prompt`" in decision.message
    assert "review is turned off" in decision.message


def test_review_flagged_holds_only_flagged_prompts() -> None:
    policy = review_policy(ReviewMode.FLAGGED)
    held = decide(request(texts=FLAGGED_TEXT), policy, NOW)
    assert (held.outcome, held.rule) == (Outcome.REVIEW, Rule.REVIEW_FLAGGED)
    assert held.held
    assert held.verdict.matched_term_for_moderators == "swimsuit (review_terms)"
    assert held.message == held.verdict.reason_for_user
    assert decide(request(account_created_at=NOW), policy, NOW).allowed


def test_review_new_members() -> None:
    policy = review_policy(ReviewMode.NEW_MEMBERS, new_member_account_days=7, new_member_guild_days=2)
    assert decide(request(), policy, NOW).allowed
    young_account = decide(request(account_created_at=NOW - 6 * DAY), policy, NOW)
    assert young_account.rule is Rule.REVIEW_NEW_MEMBER
    assert "new members" in young_account.message
    assert decide(request(member_joined_at=NOW - DAY), policy, NOW).held
    assert decide(request(texts=FLAGGED_TEXT), policy, NOW).rule is Rule.REVIEW_FLAGGED
    verified = dataclasses.replace(policy, new_member_role=42)
    assert decide(request(), verified, NOW).rule is Rule.REVIEW_NEW_MEMBER
    assert decide(request(role_ids=frozenset({42})), verified, NOW).allowed
    assert decide(request(account_created_at=NOW - 6 * DAY, is_moderator=True), policy, NOW).allowed


def test_review_everyone() -> None:
    policy = review_policy(ReviewMode.EVERYONE)
    decision = decide(request(), policy, NOW)
    assert decision.rule is Rule.REVIEW_EVERYONE
    assert decide(request(texts=FLAGGED_TEXT), policy, NOW).rule is Rule.REVIEW_FLAGGED
    assert decide(request(is_moderator=True, texts=FLAGGED_TEXT), policy, NOW).allowed


def test_new_member_thresholds() -> None:
    policy = GuildPolicy(new_member_account_days=0, new_member_guild_days=0)
    assert not is_new_member(request(account_created_at=NOW, member_joined_at=NOW), policy, NOW)
    unknown = request(account_created_at=None, member_joined_at=None)
    assert not is_new_member(unknown, GuildPolicy(), NOW)


# --- order -----------------------------------------------------------------------------------------------


def test_the_most_fundamental_problem_is_reported_first() -> None:
    policy = GuildPolicy(
        allowed_channels=frozenset({99}),
        blocked_terms=("gore",),
        max_queued_per_user=1,
        review_mode=ReviewMode.EVERYONE,
    )
    ctx = request(texts={"prompt": "gore"})
    assert decide(ctx, policy, NOW, ban=ban()).rule is Rule.BANNED
    assert decide(ctx, policy, NOW).rule is Rule.CHANNEL_NOT_ALLOWED
    ctx = dataclasses.replace(ctx, channel_id=99)
    assert decide(ctx, policy, NOW).rule is Rule.FILTER_BLOCK
    ctx = dataclasses.replace(ctx, texts={"prompt": "ok"})
    assert decide(ctx, policy, NOW).rule is Rule.REVIEW_EVERYONE


# --- evaluate, with the database ---------------------------------------------------------------------


async def test_evaluate_sees_bans_until_they_expire(db: Database, clock: FakeClock) -> None:
    bans = BanRepository(db)
    await bans.ban(GUILD, USER, reason="spam", until=clock() + 60)
    decision = await evaluate(request(), POLICY, clock(), bans=bans)
    assert decision.rule is Rule.BANNED
    assert decision.message.startswith(
        "You are banned from using the bot here until 2025-03-02 00:00 UTC (1 minute from now)."
    )
    clock.advance(60)
    assert (await evaluate(request(), POLICY, clock(), bans=bans)).allowed


async def test_evaluate_sees_bot_wide_bans(db: Database, clock: FakeClock) -> None:
    bans = BanRepository(db)
    await bans.ban(None, USER)
    assert (await evaluate(request(), POLICY, clock(), bans=bans)).rule is Rule.BANNED
    other_guild = request(guild_id=GUILD + 1)
    assert (await evaluate(other_guild, POLICY, clock(), bans=bans)).refused
    assert await bans.unban(None, USER)
    assert (await evaluate(request(), POLICY, clock(), bans=bans)).allowed


async def test_quotas_reset_at_the_utc_day_boundary(db: Database, clock: FakeClock) -> None:
    quotas = QuotaRepository(db)
    limits = GuildPolicy(daily_jobs=2, daily_gpu_seconds=100).limits_for(frozenset())

    async def refusal(guild: int = GUILD) -> Any:
        usage = await quotas.get_usage(guild, USER, utc_day(clock()))
        return check_limits(
            limits,
            open_jobs=0,
            last_job_at=None,
            jobs_today=usage.jobs,
            gpu_seconds_today=usage.gpu_seconds,
            now=clock(),
        )

    today = dt.date(2025, 3, 1)
    await quotas.add_usage(GUILD, USER, today, jobs=2)
    refused = await refusal()
    assert refused.rule == Rule.DAILY_JOBS
    assert refused.retry_after == pytest.approx(60)
    assert "in 1 minute" in refused.message
    clock.advance(59)
    assert await refusal() is not None
    clock.advance(1)  # 00:00 UTC
    assert await refusal() is None
    await quotas.add_usage(GUILD, USER, today + dt.timedelta(days=1), gpu_seconds=100)
    assert (await refusal()).rule == Rule.DAILY_GPU
    # Usage in another guild does not count here.
    assert await refusal(GUILD + 1) is None
