"""``python -m bench [--quick]``: every benchmark, one JSON document on stdout.

Figures are comparable from run to run only on the same machine; quote medians and ratios from one
run. ``--quick`` is a reduced run (well under a minute) for smoke-testing the benchmarks themselves.

``python -m bench --real URL[,URL...] [--jobs N] [--set NAME=VALUE ...]`` benchmarks real ComfyUI
servers instead (see bench/real_bench.py and the README): nothing else runs then.
"""

from __future__ import annotations

import asyncio
import json
import logging
import platform
import sys
import time
from typing import Any

from bench import (
    cancel_bench,
    client_bench,
    discord_bench,
    engine_bench,
    filter_bench,
    media_bench,
    real_bench,
    soak_bench,
    templates_bench,
)


async def main(quick: bool) -> dict[str, Any]:
    started = time.monotonic()
    report: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "quick": quick,
    }
    report["client"] = await client_bench.run(200 if quick else 1000)
    report["engine"] = await engine_bench.run(40 if quick else 200, 1000 if quick else 10_000)
    report["discord"] = await discord_bench.run(40 if quick else 200, 8 if quick else 20)
    report["sockets_per_backend"] = report["client"]["sockets_per_backend"]
    report["idle_gap_ms"] = report["engine"]["idle_gap_ms"]
    report["makespan_ratio"] = report["engine"]["makespan_ratio"]
    report["speedup_vs_sequential"] = report["engine"]["speedup_vs_sequential"]
    for key in ("submit_overhead_ms", "deliver_overhead_ms", "discord_requests_per_job", "discord_429"):
        report[key] = report["discord"][key]
    report["cancel"] = await cancel_bench.run(60 if quick else 240)
    report["cancelled_but_ran"] = report["cancel"]["cancelled_but_ran"]
    report["filter"] = filter_bench.run(60 if quick else 300)
    for key in ("filter_ms", "filter_adversarial_ms"):
        report[key] = {k: report["filter"][key][k] for k in ("median", "p95")}
    report["media"] = await asyncio.to_thread(media_bench.run, 1 if quick else 3)
    report["video_fit_s"] = report["media"]["video_fit_s"]
    report["templates"] = templates_bench.run(20 if quick else 100)
    report["soak"] = await soak_bench.run(120 if quick else 1000, 12 if quick else 50)
    report["rss_mb"] = {"start": report["soak"]["rss_mb"]["start"], "end": report["soak"]["rss_mb"]["end"]}
    report["jobs_lost"] = report["soak"]["jobs_lost"]
    report["jobs_duplicated"] = report["soak"]["jobs_duplicated"]
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    if any(arg == "--real" or arg.startswith("--real=") for arg in sys.argv[1:]):
        print(json.dumps(real_bench.main(sys.argv[1:]), indent=2))
    else:
        print(json.dumps(asyncio.run(main("--quick" in sys.argv)), indent=2))
