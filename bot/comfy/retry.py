"""Jittered exponential back-off, with the clock and the randomness injected for tests."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before attempt ``n`` (0-based): uniform in [base*2^n/2, base*2^n], capped.

    Half of the window is fixed so reconnect storms from many bots spread out without
    ever retrying immediately.
    """

    base: float = 0.25
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * 2.0 ** min(attempt, 30))
        return float(ceiling / 2 + self.rng.random() * ceiling / 2)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often an idempotent request is tried, and how long to wait in between."""

    attempts: int = 3
    backoff: Backoff = field(default_factory=lambda: Backoff(base=0.2, cap=2.0))
    sleep: Sleep = asyncio.sleep

    @classmethod
    def never(cls) -> RetryPolicy:
        return cls(attempts=1)
