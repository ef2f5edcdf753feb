"""Real servers: the seeds' submit-and-wait loop against comfycord's engine, with the same jobs.

``python -m bench --real URL[,URL...] [--jobs N] [--template imagine] [--set NAME=VALUE ...]
[--workflows DIR] [--rounds 2]``. Both patterns run in the same invocation, on the same servers,
after one untimed warm-up job per server (it loads the models), in blocks A B B A ... so that load
from elsewhere on the machine weighs on both alike:

- ``sequential``: the pattern of ComfyUI's API examples (../shared/seeds): for each job a new
  websocket with a fresh client id, ``POST /prompt``, wait for ``executing {node: null}``, close, next.
  One job at a time, handed round-robin to the servers.
- ``engine``: every job submitted at once to comfycord's JobEngine (one websocket per server,
  ``COMFYUI_MAX_IN_FLIGHT`` prompts kept inside each server, least-loaded dispatch).

The idle gap is read from the servers' own clocks: for consecutive prompts on one server, the
``execution_start`` timestamp of the next minus the ``execution_success`` timestamp of the previous
(from ``/history``). Seeds and prompt texts differ per job and per pattern, so ComfyUI's node cache
helps neither. Only templates without image inputs can be benchmarked (a text-to-image job is what
the GPU time goes to).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import struct
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.stats import summary
from bot.comfy import ComfyClient, Endpoint
from bot.config import load_settings
from bot.jobmodel.model import Job, OutputRef
from bot.jobmodel.states import JobState
from bot.jobs.backends import BackendPool
from bot.jobs.delivery import Receipt
from bot.jobs.engine import EngineLimits, JobEngine
from bot.jobs.planning import JobRequest
from bot.jobs.template_planner import TemplatePlanner
from bot.jobs.updates import Mailbox
from bot.storage import Database, Spool
from bot.templates import Template, TemplateSet, load_templates

ROOT = Path(__file__).resolve().parents[1]
PATIENCE = 3600.0  # seconds a whole pattern may take before the bench gives up


class NullSink:
    """Delivers nowhere: the bench measures the servers and the engine, not Discord."""

    async def deliver(self, job: Job, outputs: Sequence[OutputRef]) -> Receipt:
        return Receipt()

    async def notify_end(self, job: Job) -> Receipt:
        return Receipt()


@dataclass
class Ran:
    """Which prompts one pattern queued where, and its wall time."""

    wall_s: float = 0.0
    prompts: list[tuple[Endpoint, str]] = field(default_factory=list)
    images: int = 0
    failed: int = 0


def endpoints(urls: Sequence[str]) -> tuple[Endpoint, ...]:
    """URLs parsed like COMFYUI_URLS, so ``COMFYUI_AUTH_<n>`` and ``user:password@`` apply."""
    env = {k: v for k, v in os.environ.items() if k.startswith("COMFYUI_AUTH_")}
    env["COMFYUI_URLS"] = ",".join(urls)
    return load_settings(env, require_discord=False).backends


def job_values(
    template: Template, values: Mapping[str, str], pattern: str, n: int, seed_base: int
) -> dict[str, str]:
    """The ``n``-th job of a pattern: the given values, and its own seed and prompt text (where the
    template has them), so that no job is served from ComfyUI's cache."""
    chosen = dict(values)
    if template.has_param("seed"):
        chosen["seed"] = str(seed_base + n)
    if template.has_param("prompt"):
        chosen["prompt"] = f"{chosen.get('prompt', 'a lighthouse on a cliff at dusk')}, {pattern} {n}"
    return chosen


# --- the seeds' pattern ------------------------------------------------------------------------------


async def seeds_job(
    session: aiohttp.ClientSession, endpoint: Endpoint, graph: Mapping[str, Any], output_nodes: frozenset[str]
) -> tuple[str, int, bool]:
    """One job the seeds' way (their method 3: SaveImageWebsocket frames); (prompt id, images, ok)."""
    client_id = str(uuid.uuid4())
    headers = endpoint.auth.headers()
    async with session.ws_connect(endpoint.ws_url(client_id), headers=headers, max_msg_size=0) as ws:
        async with session.post(
            endpoint.http_url("/prompt"), json={"prompt": graph, "client_id": client_id}, headers=headers
        ) as response:
            answer = await response.json()
        if response.status != 200:
            raise RuntimeError(f"{endpoint.name} refused the prompt: {json.dumps(answer)[:500]}")
        prompt_id = str(answer["prompt_id"])
        current, images, ok = None, 0, False
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                event = json.loads(message.data)
                data = event.get("data") or {}
                if data.get("prompt_id") != prompt_id:
                    continue
                if event["type"] == "execution_success":
                    ok = True
                if event["type"] == "executing":
                    current = data.get("node")
                    if current is None:
                        break
            elif message.type == aiohttp.WSMsgType.BINARY and current in output_nodes:
                if struct.unpack(">I", message.data[:4])[0] == 1:
                    images += 1
            elif message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                raise RuntimeError(f"{endpoint.name} closed the websocket mid-job")
    return prompt_id, images, ok


async def sequential(
    session: aiohttp.ClientSession,
    backends: Sequence[Endpoint],
    planner: TemplatePlanner,
    template: str,
    values: Mapping[str, str],
    jobs: int,
    *,
    pattern: str = "sequential",
    seed_base: int = 1_000,
) -> Ran:
    ran = Ran()
    graphs = []
    for n in range(jobs):
        chosen = job_values(planner.templates[template], values, pattern, n, seed_base)
        params = planner.validate(template, chosen, random.Random(n))
        graphs.append(planner.plan(template, params, {}))
    started = time.monotonic()
    for n, plan in enumerate(graphs):
        endpoint = backends[n % len(backends)]
        prompt_id, images, ok = await seeds_job(session, endpoint, plan.graph, plan.output_nodes)
        ran.prompts.append((endpoint, prompt_id))
        ran.images += images
        ran.failed += not ok
    ran.wall_s = time.monotonic() - started
    return ran


# --- comfycord's engine --------------------------------------------------------------------------------


async def engine(
    session: aiohttp.ClientSession,
    backends: Sequence[Endpoint],
    templates: TemplateSet,
    template: str,
    values: Mapping[str, str],
    jobs: int,
    capacity: int,
    scratch: Path,
    *,
    pattern: str = "engine",
    seed_base: int = 2_000,
) -> Ran:
    ran = Ran()
    planner = TemplatePlanner(templates)
    async with await Database.open_in(scratch) as db:
        clients = [ComfyClient(session, e, timeout=30.0) for e in backends]
        pool = BackendPool(clients, capacity=capacity, capability_check=planner.capabilities)
        limits = EngineLimits(max_queued_per_user=jobs, max_queued_total=jobs, max_runtime=PATIENCE)
        runner = JobEngine(db, pool, planner, Spool.in_data_dir(scratch), limits=limits)
        runner.set_sink(NullSink())
        await pool.start()
        try:
            await _wait_capable(pool, template)
            await runner.start()
            box = runner.updates.subscribe()
            started = time.monotonic()
            ids = []
            for n in range(jobs):
                chosen = job_values(templates[template], values, pattern, n, seed_base)
                request = JobRequest(user_id=n, channel_id=0, template=template, values=chosen)
                ids.append((await runner.submit(request)).id)
            finished = await _wait_finished(runner, box, ids)
            ran.wall_s = time.monotonic() - started
        finally:
            await runner.close()
            await pool.close()
    by_name = {e.name: e for e in backends}
    for job in finished:
        ran.failed += job.state is not JobState.DELIVERED
        if job.backend in by_name and job.prompt_id:
            ran.prompts.append((by_name[job.backend], job.prompt_id))
    return ran


async def _wait_capable(pool: BackendPool, template: str) -> None:
    deadline = time.monotonic() + 60
    while not all(b.healthy and b.can_run(template) for b in pool.backends):
        if time.monotonic() > deadline:
            why = {b.name: b.problems.get(template) or "not healthy" for b in pool.backends}
            raise RuntimeError(f"not every server can run /{template}: {why}")
        await asyncio.sleep(0.1)


async def _wait_finished(engine: JobEngine, box: Mailbox, ids: Sequence[str]) -> list[Job]:
    """Wait on the engine's own updates (polling the database would take CPU from the servers on a
    small machine); the database is read again now and then in case an update was missed."""
    done = (JobState.DELIVERED, JobState.FAILED, JobState.CANCELLED)
    open_ids = set(ids)
    deadline = time.monotonic() + PATIENCE
    while open_ids:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(open_ids)} job(s) unfinished")
        try:
            async with asyncio.timeout(5):
                updates = await box.get()
        except TimeoutError:
            stored = [await engine.jobs.require(i) for i in open_ids]
            open_ids -= {job.id for job in stored if job.state in done}
            continue
        open_ids -= {u.job.id for u in updates if u.job.state in done}
    return [await engine.jobs.require(i) for i in ids]


# --- what the servers say ------------------------------------------------------------------------------


async def server_runs(
    session: aiohttp.ClientSession, prompts: Sequence[tuple[Endpoint, str]]
) -> dict[str, list[tuple[int, int]]]:
    """Per server, (execution_start, execution_success) in server milliseconds, in start order."""
    runs: dict[str, list[tuple[int, int]]] = {}
    for endpoint, prompt_id in prompts:
        async with session.get(
            endpoint.http_url(f"/history/{prompt_id}"), headers=endpoint.auth.headers()
        ) as response:
            entry = (await response.json()).get(prompt_id) or {}
        stamps = {m[0]: m[1].get("timestamp") for m in (entry.get("status") or {}).get("messages", [])}
        start, end = stamps.get("execution_start"), stamps.get("execution_success")
        if isinstance(start, int) and isinstance(end, int):
            runs.setdefault(endpoint.name, []).append((start, end))
    return {name: sorted(found) for name, found in runs.items()}


def figures(blocks: Sequence[tuple[Ran, Mapping[str, list[tuple[int, int]]]]], jobs: int) -> dict[str, Any]:
    """One pattern's figures over its blocks (gaps only between prompts of the same block)."""
    wall = sum(ran.wall_s for ran, _ in blocks)
    gaps = [
        (b[0] - a[1]) / 1000
        for _, runs in blocks
        for found in runs.values()
        for a, b in itertools.pairwise(found)
    ]
    work = sum(end - start for _, runs in blocks for found in runs.values() for start, end in found) / 1000
    per_server: dict[str, int] = {}
    for _, runs in blocks:
        for name, found in runs.items():
            per_server[name] = per_server.get(name, 0) + len(found)
    return {
        "wall_s": round(wall, 3),
        "jobs_per_s": round(jobs / wall, 4) if wall else 0.0,
        "idle_gap_ms": summary(gaps),
        "server_busy_s": round(work, 3),
        "jobs_per_server": per_server,
        "failed": sum(ran.failed for ran, _ in blocks),
    }


def block_sizes(jobs: int, rounds: int) -> list[int]:
    """``jobs`` split over ``rounds`` blocks as evenly as possible."""
    rounds = max(1, min(rounds, jobs))
    return [jobs // rounds + (1 if i < jobs % rounds else 0) for i in range(rounds)]


async def run(
    urls: Sequence[str],
    *,
    jobs: int | None = None,
    template: str = "imagine",
    values: Mapping[str, str] | None = None,
    workflows: Path | None = None,
    capacity: int | None = None,
    rounds: int = 2,
) -> dict[str, Any]:
    """Both patterns on the same servers with the same jobs; one JSON-able report. The jobs are split
    into ``rounds`` blocks per pattern, run in the order A B B A ..., so that a load that drifts during
    the run (other work on the machine) weighs on both patterns alike."""
    backends = endpoints(urls)
    jobs = jobs or 4 * len(backends)
    capacity = capacity or int(os.environ.get("COMFYUI_MAX_IN_FLIGHT", "2"))
    folder = workflows or Path(os.environ.get("WORKFLOWS_DIR", ROOT / "workflows"))
    templates = load_templates(folder)
    chosen = templates.get(template)
    if chosen is None:
        raise SystemExit(f"no template {template!r} in {folder} (known: {', '.join(templates.names)})")
    if any(p.is_file for p in chosen.params if p.required):
        raise SystemExit(f"/{template} needs an image; benchmark a text-to-image template")
    values = dict(values or {})
    planner = TemplatePlanner(templates)
    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for endpoint in backends:  # untimed: loads the models on every server
            await sequential(session, [endpoint], planner, template, values, 1, pattern="warm-up")
        done = await _rounds(session, backends, templates, template, values, jobs, capacity, rounds)
    seq, eng = figures(done["seq"], jobs), figures(done["eng"], jobs)
    return {
        "servers": [e.name for e in backends],
        "template": template,
        "values": values,
        "jobs": jobs,
        "rounds": len(done["seq"]),
        "in_flight_per_server": capacity,
        "sequential": seq,
        "engine": eng,
        "real_speedup_vs_sequential": round(seq["wall_s"] / eng["wall_s"], 3) if eng["wall_s"] else None,
        "real_idle_gap_ms": {"median": eng["idle_gap_ms"]["median"], "p95": eng["idle_gap_ms"]["p95"]},
        "real_jobs_per_s": eng["jobs_per_s"],
        "sequential_jobs_per_s": seq["jobs_per_s"],
        "seconds": round(time.monotonic() - started, 1),
    }


Blocks = list[tuple[Ran, Mapping[str, list[tuple[int, int]]]]]


async def _rounds(
    session: aiohttp.ClientSession,
    backends: Sequence[Endpoint],
    templates: TemplateSet,
    template: str,
    values: Mapping[str, str],
    jobs: int,
    capacity: int,
    rounds: int,
) -> dict[str, Blocks]:
    """Each pattern's blocks, run A B B A ...; seeds and prompt texts never repeat."""
    planner = TemplatePlanner(templates)
    done: dict[str, Blocks] = {"seq": [], "eng": []}
    for block, size in enumerate(block_sizes(jobs, rounds)):
        for which in ("seq", "eng") if block % 2 == 0 else ("eng", "seq"):
            if which == "seq":
                ran = await sequential(
                    session,
                    backends,
                    planner,
                    template,
                    values,
                    size,
                    pattern=f"sequential {block}",
                    seed_base=100_000 + 10_000 * block,
                )
            else:
                with tempfile.TemporaryDirectory(prefix="comfycord-bench-") as scratch:
                    ran = await engine(
                        session,
                        backends,
                        templates,
                        template,
                        values,
                        size,
                        capacity,
                        Path(scratch),
                        pattern=f"engine {block}",
                        seed_base=200_000 + 10_000 * block,
                    )
            done[which].append((ran, await server_runs(session, ran.prompts)))
    return done


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench --real", description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", required=True, help="comma-separated ComfyUI URLs")
    parser.add_argument("--jobs", type=int, default=None, help="jobs per pattern (default 4 per server)")
    parser.add_argument("--template", default="imagine")
    parser.add_argument("--set", dest="values", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--workflows", type=Path, default=None, help="default: WORKFLOWS_DIR or ./workflows")
    parser.add_argument("--in-flight", type=int, default=None, help="default: COMFYUI_MAX_IN_FLIGHT or 2")
    parser.add_argument("--rounds", type=int, default=2, help="blocks per pattern, run A B B A (default 2)")
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> dict[str, Any]:
    args = parse(argv)
    values = {}
    for item in args.values:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {item!r} must look like NAME=VALUE")
        values[name.strip()] = value
    urls = [u.strip() for u in args.real.split(",") if u.strip()]
    return asyncio.run(
        run(
            urls,
            jobs=args.jobs,
            template=args.template,
            values=values,
            workflows=args.workflows,
            capacity=args.in_flight,
            rounds=args.rounds,
        )
    )


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=2))
