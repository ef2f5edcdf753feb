"""Who may run what, where, how often, and whether a moderator looks first.

``decide`` is the whole policy as a pure function of plain data; ``evaluate`` gathers the facts it
needs from storage (the member's ban) and calls it. Rules run in a fixed order and
the first that refuses wins, so a member always hears the most fundamental problem first:

1. an active ban;
2. where and by whom: the channel allow-list, the template's channels and roles, NSFW templates
   only in age-restricted channels;
3. the prompt filters (block);
4. review: filter-flagged prompts, new members, or everyone, depending on the review mode.

The member's limits (jobs waiting at once, the cooldown, the daily job and GPU-second quotas) are part
of the decision (``Decision.limits``) but are checked by the job engine with ``check_limits``, in the
very transaction that stores the job: checked here, two quick requests could both pass.

Moderators are exempt (when ``moderators_exempt`` is on) from the channel and role restrictions,
limits and review, but never from bans, blocked terms or the age-restricted channel rule.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from bot.moderation.durations import human_duration
from bot.moderation.filters import ALLOWED, FilterAction, FilterVerdict, check_texts
from bot.moderation.limits import DAY, Limits
from bot.moderation.settings import GuildPolicy, ReviewMode
from bot.storage import Ban, BanRepository


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What is known about one request, as plain data (times are UNIX timestamps)."""

    guild_id: int | None
    channel_id: int
    user_id: int
    template: str
    texts: Mapping[str, str] = field(default_factory=dict)
    role_ids: frozenset[int] = frozenset()
    channel_nsfw: bool = False
    template_nsfw: bool = False
    is_moderator: bool = False
    account_created_at: float | None = None
    member_joined_at: float | None = None


class Outcome(StrEnum):
    """What happens to the request."""

    ALLOW = "allow"
    REVIEW = "review"
    REFUSE = "refuse"


class Rule(StrEnum):
    """Which rule decided; stable names for logs, audit entries and tests."""

    BANNED = "banned"
    CHANNEL_NOT_ALLOWED = "channel_not_allowed"
    TEMPLATE_CHANNEL = "template_channel"
    TEMPLATE_ROLE = "template_role"
    NSFW_CHANNEL = "nsfw_channel"
    FILTER_BLOCK = "filter_block"
    QUEUE_LIMIT = "queue_limit"
    COOLDOWN = "cooldown"
    DAILY_JOBS = "daily_jobs"
    DAILY_GPU = "daily_gpu"
    REVIEW_DISABLED = "review_disabled"
    REVIEW_FLAGGED = "review_flagged"
    REVIEW_NEW_MEMBER = "review_new_member"
    REVIEW_EVERYONE = "review_everyone"


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's answer: ``message`` is for the member (what to change), empty when allowed.

    ``limits`` are what the job engine enforces when it stores the job (all 0 for an exempt moderator).
    """

    outcome: Outcome
    lane: str
    limits: Limits
    rule: Rule | None = None
    message: str = ""
    verdict: FilterVerdict = ALLOWED

    @property
    def allowed(self) -> bool:
        """The job may be queued now."""
        return self.outcome is Outcome.ALLOW

    @property
    def held(self) -> bool:
        """The job waits for a moderator (PENDING_REVIEW)."""
        return self.outcome is Outcome.REVIEW

    @property
    def refused(self) -> bool:
        """The job is not created."""
        return self.outcome is Outcome.REFUSE


def decide(
    ctx: RequestContext,
    policy: GuildPolicy,
    now: float,
    *,
    ban: Ban | None = None,
    verdict: FilterVerdict | None = None,
) -> Decision:
    """The pure policy: ``ban`` is the member's ban here (if any), ``verdict`` the filters' verdict on
    ``ctx.texts`` (checked here when not given)."""
    limits = policy.limits_for(ctx.role_ids)
    exempt = ctx.is_moderator and policy.moderators_exempt
    if exempt:
        limits = Limits(lane=limits.lane)

    def refuse(rule: Rule, message: str, *, verdict: FilterVerdict = ALLOWED) -> Decision:
        return Decision(Outcome.REFUSE, limits.lane, limits, rule, message, verdict)

    if ban is not None and ban.active_at(now):
        return refuse(Rule.BANNED, _ban_message(ban, now))

    where = None if exempt else _where_refusal(ctx, policy)
    if where is not None:
        return refuse(*where)
    if ctx.template_nsfw and not ctx.channel_nsfw:
        return refuse(
            Rule.NSFW_CHANNEL, f"`/{ctx.template}` can only be used in age-restricted (NSFW) channels."
        )

    if verdict is None:
        verdict = check_texts(policy, ctx.texts)
    if verdict.action is FilterAction.BLOCK:
        return refuse(Rule.FILTER_BLOCK, verdict.reason_for_user, verdict=verdict)

    review = None if exempt else _review_rule(ctx, policy, verdict, now)
    if review is Rule.REVIEW_DISABLED:
        message = (
            f"Your `{verdict.param}` contains a term that needs a moderator's review, and review is "
            "turned off on this server. Please rephrase it and try again."
        )
        return refuse(review, message, verdict=verdict)
    if review is not None:
        message = verdict.reason_for_user if review is Rule.REVIEW_FLAGGED else _REVIEW_MESSAGES[review]
        return Decision(Outcome.REVIEW, limits.lane, limits, review, message, verdict)
    return Decision(Outcome.ALLOW, limits.lane, limits, verdict=verdict)


async def screen_texts(policy: GuildPolicy, texts: Mapping[str, str]) -> FilterVerdict:
    """``check_texts`` in a worker thread: RE2 lets go of the GIL while it matches, so not even term
    lists as slow as the rules allow (or compiling a list that just changed) hold up the event loop."""
    return await asyncio.to_thread(check_texts, policy, texts) if texts else ALLOWED


async def evaluate(
    ctx: RequestContext,
    policy: GuildPolicy,
    now: float,
    *,
    bans: BanRepository,
    verdict: FilterVerdict | None = None,
) -> Decision:
    """``decide`` with the member's ban read from storage, and the filters' verdict from
    ``screen_texts`` unless the caller already has it."""
    ban = await bans.active_ban(ctx.guild_id, ctx.user_id)
    if verdict is None:
        verdict = await screen_texts(policy, ctx.texts)
    return decide(ctx, policy, now, ban=ban, verdict=verdict)


def is_new_member(ctx: RequestContext, policy: GuildPolicy, now: float) -> bool:
    """Whether the member counts as new: young account, recent join, or missing the required role.

    A threshold of 0 is off, and an unknown time (None) does not make anyone new.
    """
    account_days = policy.new_member_account_days
    if (
        account_days
        and ctx.account_created_at is not None
        and now - ctx.account_created_at < account_days * DAY
    ):
        return True
    guild_days = policy.new_member_guild_days
    if guild_days and ctx.member_joined_at is not None and now - ctx.member_joined_at < guild_days * DAY:
        return True
    return policy.new_member_role is not None and policy.new_member_role not in ctx.role_ids


# --- the rules ----------------------------------------------------------------------------------------


def _channels(ids: frozenset[int]) -> str:
    shown = [f"<#{c}>" for c in sorted(ids)[:5]]
    more = " and others" if len(ids) > 5 else ""
    return ", ".join(shown) + more


def _where_refusal(ctx: RequestContext, policy: GuildPolicy) -> tuple[Rule, str] | None:
    if policy.allowed_channels and ctx.channel_id not in policy.allowed_channels:
        return Rule.CHANNEL_NOT_ALLOWED, (
            f"The bot can't be used in this channel. Try {_channels(policy.allowed_channels)}."
        )
    channels = policy.template_channels.get(ctx.template)
    if channels and ctx.channel_id not in channels:
        return Rule.TEMPLATE_CHANNEL, f"`/{ctx.template}` can only be used in {_channels(channels)}."
    roles = policy.template_roles.get(ctx.template)
    if roles and not roles & ctx.role_ids:
        shown = ", ".join(f"<@&{r}>" for r in sorted(roles)[:5])
        return Rule.TEMPLATE_ROLE, f"`/{ctx.template}` needs one of these roles: {shown}."
    return None


def _review_rule(ctx: RequestContext, policy: GuildPolicy, verdict: FilterVerdict, now: float) -> Rule | None:
    flagged = verdict.action is FilterAction.REVIEW
    mode = policy.review_mode
    if mode is ReviewMode.OFF:
        # Nobody reviews, but a moderator did ask for a look at these terms: refuse rather than let
        # them through unseen.
        return Rule.REVIEW_DISABLED if flagged else None
    if flagged:
        return Rule.REVIEW_FLAGGED
    if mode is ReviewMode.EVERYONE:
        return Rule.REVIEW_EVERYONE
    if mode is ReviewMode.NEW_MEMBERS and is_new_member(ctx, policy, now):
        return Rule.REVIEW_NEW_MEMBER
    return None


_REVIEW_MESSAGES = {
    Rule.REVIEW_NEW_MEMBER: "Requests from new members are checked by a moderator first; "
    "yours will run once it is approved.",
    Rule.REVIEW_EVERYONE: "Requests on this server are checked by a moderator first; "
    "yours will run once it is approved.",
}


def _ban_message(ban: Ban, now: float) -> str:
    if ban.until is None:
        when = "until a moderator lifts it"
    else:
        until = dt.datetime.fromtimestamp(ban.until, dt.UTC)
        when = f"until {until:%Y-%m-%d %H:%M} UTC ({human_duration(ban.until - now)} from now)"
    reason = f" Reason: {ban.reason}" if ban.reason else ""
    return f"You are banned from using the bot here {when}.{reason}"
