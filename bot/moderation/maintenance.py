"""Keeping moderation data from growing forever: expired bans, old quota counts and old audit entries
are pruned when the bot starts and then every hour.

Nothing current goes: a ban still in force, today's and yesterday's quota counts (a run that ends after
midnight UTC is charged to the new day), audit entries younger than ``AUDIT_RETENTION_DAYS``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from bot.moderation.limits import DAY, utc_day
from bot.moderation.service import ModerationService

log = logging.getLogger(__name__)

QUOTA_DAYS_KEPT: Final = 2
"""UTC days of quota counts kept, today included: the quota only ever reads today's."""

PRUNE_INTERVAL: Final = 3600.0


@dataclass(frozen=True, slots=True)
class Retention:
    """How long moderation data is kept, and how often it is pruned (seconds)."""

    audit_days: float
    quota_days: int = QUOTA_DAYS_KEPT
    interval: float = PRUNE_INTERVAL


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one round removed."""

    bans: int = 0
    quota_rows: int = 0
    audit_entries: int = 0

    @property
    def total(self) -> int:
        """Rows removed in all."""
        return self.bans + self.quota_rows + self.audit_entries


class ModerationMaintenance:
    """Prunes moderation data once ``run`` starts and then every ``retention.interval``; the App's
    supervisor runs it. A failed round is logged and the next one tries again. ``clock`` and ``sleep``
    are injected so tests move time."""

    def __init__(
        self,
        moderation: ModerationService,
        retention: Retention,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._moderation = moderation
        self._retention = retention
        self._clock = clock
        self._sleep = sleep

    async def prune(self) -> Pruned:
        """One round: expired bans, quota counts older than the days kept, audit entries past retention."""
        now = self._clock()
        oldest_day = utc_day(now) - dt.timedelta(days=self._retention.quota_days - 1)
        pruned = Pruned(
            bans=await self._moderation.bans.purge_expired(),
            quota_rows=await self._moderation.quotas.prune_before(oldest_day),
            audit_entries=await self._moderation.audit.prune_before(now - self._retention.audit_days * DAY),
        )
        if pruned.total:
            log.info(
                "pruned %d expired ban(s), %d old quota count(s), %d audit entr(ies) older than %g days",
                pruned.bans,
                pruned.quota_rows,
                pruned.audit_entries,
                self._retention.audit_days,
            )
        return pruned

    async def run(self) -> None:
        """The schedule itself, forever."""
        while True:
            try:
                await self.prune()
            except Exception:
                log.exception("pruning moderation data failed; trying again in %gs", self._retention.interval)
            await self._sleep(self._retention.interval)
