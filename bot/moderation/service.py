"""Moderation over the database: what the Discord layer and the job engine call."""

from __future__ import annotations

import logging
from typing import Final, Protocol

from bot.moderation import audit as audit_log
from bot.moderation.audit import AuditAction
from bot.moderation.policy import Decision, RequestContext, Rule, evaluate, screen_texts
from bot.moderation.settings import GuildPolicy
from bot.moderation.store import PolicyStore, SettingChange
from bot.storage import (
    AuditRepository,
    Ban,
    BanRepository,
    Database,
    GuildSettingsRepository,
    QuotaRepository,
)

log = logging.getLogger(__name__)


class ModerationCounters(Protocol):
    """Where moderation reports its decisions (``Metrics``)."""

    def filter_outcome(self, action: str) -> None: ...

    def review_outcome(self, decision: str) -> None: ...


_REVIEW_DECISIONS: Final[dict[str, str]] = {
    AuditAction.REVIEW_APPROVE: "approve",
    AuditAction.REVIEW_REJECT: "reject",
    AuditAction.REVIEW_BAN: "ban",
    AuditAction.OUTPUT_RELEASE: "release",
    AuditAction.OUTPUT_DISCARD: "discard",
}
"""Audit actions that are a moderator's decision on something held, by the metric's word for them."""


class ModerationService:
    """Policies, bans, quotas and the audit trail of one database, behind a few task-sized methods.

    ``counters`` hears every filter verdict and every review decision: the latter from the audit
    trail itself, which every path that decides (buttons, forms, commands) writes to."""

    def __init__(self, db: Database, *, counters: ModerationCounters | None = None) -> None:
        self._counters = counters
        self.policies = PolicyStore(GuildSettingsRepository(db))
        self.bans = BanRepository(db)
        self.quotas = QuotaRepository(db)
        self.audit = AuditRepository(db, on_record=self._recorded)

    def _recorded(self, action: str) -> None:
        decision = _REVIEW_DECISIONS.get(action)
        if decision is not None and self._counters is not None:
            self._counters.review_outcome(decision)

    async def policy(self, guild_id: int | None) -> GuildPolicy:
        """The guild's current policy."""
        return await self.policies.load(guild_id)

    async def evaluate(self, ctx: RequestContext, now: float) -> Decision:
        """Decide on a request; filter blocks go to the audit trail here, since no job will exist."""
        policy = await self.policy(ctx.guild_id)
        verdict = await screen_texts(policy, ctx.texts)
        if ctx.texts and self._counters is not None:
            self._counters.filter_outcome(verdict.action.value)
        decision = await evaluate(ctx, policy, now, bans=self.bans, verdict=verdict)
        if decision.rule is Rule.FILTER_BLOCK:
            log.info(
                "guild=%s user=%s blocked by filter in %s", ctx.guild_id, ctx.user_id, decision.verdict.param
            )
            await audit_log.record_filter_block(self.audit, ctx, decision.verdict)
        return decision

    async def ban(
        self,
        guild_id: int | None,
        user_id: int,
        *,
        moderator_id: int | None,
        reason: str = "",
        until: float | None = None,
        job_id: str | None = None,
    ) -> Ban:
        """Ban a member (None guild: everywhere) and record it."""
        ban = await self.bans.ban(guild_id, user_id, reason=reason, moderator_id=moderator_id, until=until)
        await audit_log.record_ban(self.audit, ban, job_id=job_id)
        return ban

    async def unban(self, guild_id: int | None, user_id: int, *, moderator_id: int | None) -> bool:
        """Lift a ban and record it; False if there was none."""
        lifted = await self.bans.unban(guild_id, user_id)
        if lifted:
            await audit_log.record_unban(
                self.audit, guild_id=guild_id, moderator_id=moderator_id, user_id=user_id
            )
        return lifted

    async def change_setting(self, guild_id: int, key: str, text: str, *, moderator_id: int) -> SettingChange:
        """``/mod settings set``: parse, store and record (when it changed anything); SettingError if the
        value does not parse."""
        change = await self.policies.set_text(guild_id, key, text)
        if change.changed:
            await audit_log.record_setting_change(
                self.audit, change, guild_id=guild_id, moderator_id=moderator_id
            )
        return change

    async def add_terms(self, guild_id: int, key: str, text: str, *, moderator_id: int) -> SettingChange:
        """``/mod terms add``: terms added to ``blocked_terms`` or ``review_terms`` and recorded;
        SettingError naming the first bad term."""
        change = await self.policies.add_terms(guild_id, key, text)
        if change.changed:
            await audit_log.record_setting_change(
                self.audit, change, guild_id=guild_id, moderator_id=moderator_id
            )
        return change

    async def remove_terms(self, guild_id: int, key: str, text: str, *, moderator_id: int) -> SettingChange:
        """``/mod terms remove``: terms taken out of a list and recorded; SettingError if one is not in it."""
        change = await self.policies.remove_terms(guild_id, key, text)
        if change.changed:
            await audit_log.record_setting_change(
                self.audit, change, guild_id=guild_id, moderator_id=moderator_id
            )
        return change

    async def reset_setting(self, guild_id: int, key: str, *, moderator_id: int) -> SettingChange:
        """``/mod settings reset``: back to the default, recorded (when it changed anything)."""
        change = await self.policies.reset(guild_id, key)
        if change.changed:
            await audit_log.record_setting_change(
                self.audit, change, guild_id=guild_id, moderator_id=moderator_id
            )
        return change
