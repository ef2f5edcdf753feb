"""Discord's daily limit on creating application commands.

"There is a global rate limit of 200 application command creates per day, per guild" (application-commands
docs, "Registering a Command"), global commands counting as one more scope; a bulk overwrite counts only
the commands that did not exist before ("Commands that do not already exist will count toward daily
application command create limits"). Going over is answered 429 with JSON code 30034, "Max number of
daily application command creates has been reached (200)", and a retry_after of up to a day.

The fake keeps a rolling window per scope. A request refused here is also recorded as a violation, so a
test fails whenever the bot would have been locked out of updating its commands for hours, even if the
bot swallowed the 429.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_DAILY_CREATES_CODE = 30034
DAY = 24 * 3600.0


@dataclass
class CommandCreates:
    """Creates per scope (None: global, else a guild id) over a rolling ``per`` seconds."""

    limit: int = 200
    per: float = DAY
    clock: Callable[[], float] = time.monotonic
    _spent: dict[str | None, list[tuple[float, int]]] = field(default_factory=dict)

    def spent(self, scope: str | None) -> int:
        """Creates counted in ``scope`` within the window."""
        now = self.clock()
        kept = [(at, n) for at, n in self._spent.get(scope, []) if now - at < self.per]
        self._spent[scope] = kept
        return sum(n for _, n in kept)

    def take(self, scope: str | None, creates: int) -> float | None:
        """Count ``creates`` new commands, or return the seconds until they would fit (nothing counted)."""
        if creates <= 0:
            return None
        used = self.spent(scope)
        if used + creates <= self.limit:
            self._spent.setdefault(scope, []).append((self.clock(), creates))
            return None
        now = self.clock()
        for at, n in sorted(self._spent.get(scope, [])):
            used -= n
            if used + creates <= self.limit:
                return max(0.001, at + self.per - now)
        return self.per

    @property
    def message(self) -> str:
        return f"Max number of daily application command creates has been reached ({self.limit})"
