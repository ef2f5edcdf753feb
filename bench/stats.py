"""Small helpers for reporting: medians and percentiles, process memory."""

from __future__ import annotations

import resource
import statistics
from collections.abc import Sequence


def summary(values: Sequence[float], scale: float = 1000.0, digits: int = 3) -> dict[str, float]:
    """median/p95/max of ``values`` (seconds by default, reported in ms)."""
    if not values:
        return {"median": 0.0, "p95": 0.0, "max": 0.0, "n": 0}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median": round(statistics.median(ordered) * scale, digits),
        "p95": round(p95 * scale, digits),
        "max": round(ordered[-1] * scale, digits),
        "n": len(ordered),
    }


def rss_mb() -> float:
    """Current resident set size of this process in MiB (from /proc, falling back to the peak)."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return round(pages * resource.getpagesize() / 2**20, 1)
    except OSError:
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
