"""Soak with faults (see tests/soak/soak.py): 1,000 jobs from 50 members over three fake backends,
with backend crashes, websocket drops, Discord 429 storms and 5xx answers, and two SIGKILLs of the bot.
Prints JSON; ``--quick`` runs 150 jobs."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.soak.soak import run_soak


async def run(jobs: int = 1000, users: int = 50) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="comfycord-soak-") as tmp:
        report = await run_soak(
            Path(tmp), jobs=jobs, users=users, backends=3, kills=2, seed=20261121, settle_timeout=600
        )
    return report.as_dict()


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    print(json.dumps(asyncio.run(run(150 if quick else 1000, 15 if quick else 50)), indent=2))
