"""Moderation over the database: what the Discord layer and the job engine call."""

from __future__ import annotations

import logging

from bot.moderation import audit as audit_log
from bot.moderation.policy import Decision, RequestContext, Rule, evaluate
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


class ModerationService:
    """Policies, bans, quotas and the audit trail of one database, behind a few task-sized methods."""

    def __init__(self, db: Database) -> None:
        self.policies = PolicyStore(GuildSettingsRepository(db))
        self.bans = BanRepository(db)
        self.quotas = QuotaRepository(db)
        self.audit = AuditRepository(db)

    async def policy(self, guild_id: int | None) -> GuildPolicy:
        """The guild's current policy."""
        return await self.policies.load(guild_id)

    async def evaluate(self, ctx: RequestContext, now: float) -> Decision:
        """Decide on a request; filter blocks go to the audit trail here, since no job will exist."""
        decision = await evaluate(ctx, await self.policy(ctx.guild_id), now, bans=self.bans)
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

    async def reset_setting(self, guild_id: int, key: str, *, moderator_id: int) -> SettingChange:
        """``/mod settings reset``: back to the default, recorded (when it changed anything)."""
        change = await self.policies.reset(guild_id, key)
        if change.changed:
            await audit_log.record_setting_change(
                self.audit, change, guild_id=guild_id, moderator_id=moderator_id
            )
        return change
