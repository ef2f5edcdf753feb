"""Cancels fired at random moments of jobs' lives: does a cancelled prompt ever still run to success?

Jobs (some with an uploaded image) go through the real engine over two fake ComfyUIs, a few at a time;
each gets a cancel at a random moment between its submission and a little past its expected end, so
cancels land while queued, during the upload, around ``POST /prompt``, while waiting inside ComfyUI,
while running, and after the end. ``cancelled_but_ran`` counts cancels the engine accepted whose prompt the
server nevertheless ran to ``success`` (the fakes record every execution and every prompt's job id):
it must be 0. A cancel the engine refuses (the job had already finished) is not counted.
"""

from __future__ import annotations

import asyncio
import io
import random
import tempfile
import time
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from PIL import Image

from bot.errors import JobError
from bot.jobmodel.states import TERMINAL_STATES, JobState
from bot.jobs.engine import EngineLimits
from bot.jobs.planning import Attachment, JobRequest
from tests.fakes.comfyui.server import FakeComfyUI
from tests.integration.engine_harness import build_harness

STEP_DELAY = 0.01


def _png(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (48, 32), (seed % 256, 80, 160)).save(out, format="PNG")
    return out.getvalue()


def _request(n: int, rng: random.Random) -> JobRequest:
    if n % 4 == 3:
        return JobRequest(
            user_id=n % 24,
            channel_id=1,
            template="img2img",
            values={"prompt": f"job {n}", "steps": rng.randint(2, 12), "seed": n},
            attachments=[Attachment("image", f"in{n}.png", _png(n))],
        )
    return JobRequest(
        user_id=n % 24,
        channel_id=1,
        template="imagine",
        values={"prompt": f"job {n}", "steps": rng.randint(2, 20), "seed": n},
    )


async def run(count: int = 240, seed: int = 5) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        async with AsyncExitStack() as stack:
            fakes = [
                await stack.enter_async_context(
                    FakeComfyUI(root_dir=Path(tmp) / f"fake{i}", step_delay=STEP_DELAY, previews=False)
                )
                for i in range(2)
            ]
            harness = await build_harness(
                stack,
                Path(tmp) / "data",
                [f.base_url for f in fakes],
                limits=EngineLimits(max_queued_per_user=10_000, max_queued_total=10_000),
            )
            await harness.wait_healthy()
            engine = harness.engine
            outcomes: Counter[str] = Counter()
            seen_in: Counter[str] = Counter()
            accepted: list[str] = []
            slots = asyncio.Semaphore(6)  # a short queue, so most cancels meet a job in flight

            async def one(n: int) -> None:
                async with slots:
                    job = await engine.submit(_request(n, rng))
                    life = 0.03 + int(job.params.get("steps", 10)) * STEP_DELAY
                    await asyncio.sleep(rng.uniform(0, 1.3 * life))
                    before = (await engine.jobs.require(job.id)).state
                    try:
                        await engine.cancel(job.id, reason="benchmark")
                    except JobError:
                        outcomes["refused"] += 1
                    else:
                        outcomes["accepted"] += 1
                        seen_in[before.value] += 1
                        accepted.append(job.id)
                    # The database is the truth about the job's end; poll it like a member's /jobs would.
                    while (await engine.jobs.require(job.id)).state not in TERMINAL_STATES:  # noqa: ASYNC110
                        await asyncio.sleep(0.005)

            started = time.monotonic()
            await asyncio.gather(*(one(n) for n in range(count)))
            ids = [j.id for j in await engine.jobs.list_by_state(*JobState)]
            deadline = time.monotonic() + 120
            while True:
                states = [(await engine.jobs.require(i)).state for i in ids]
                if all(s in TERMINAL_STATES for s in states) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.02)
            for fake in fakes:
                await fake.wait_idle(timeout=30)
            prompts_of: dict[str, set[str]] = {}
            for fake in fakes:
                for body in fake.prompt_requests:
                    job_id = (body.get("extra_data") or {}).get("comfycord_job")
                    if job_id is not None:
                        prompts_of.setdefault(job_id, set()).add(body.get("prompt_id"))
            succeeded = {e.prompt_id for fake in fakes for e in fake.executions if e.outcome == "success"}
            ran = [j for j in accepted if prompts_of.get(j, set()) & succeeded]
            final = Counter(s.value for s in states)
    return {
        "jobs": count,
        "cancels_fired": count,
        "cancels_accepted": outcomes["accepted"],
        "cancels_refused_already_finished": outcomes["refused"],
        "cancelled_while": dict(seen_in),
        "final_states": dict(final),
        "cancelled_but_ran": len(ran),
        "seconds": round(time.monotonic() - started, 1),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(asyncio.run(run()), indent=2))
