"""``comfycord generate``: one job through the real engine, with a live progress line, into a folder.

The CLI drives the same JobEngine as the bot, on a throwaway database, so what works here works in
Discord. Exit codes: 0 done, 1 the job or a backend failed, 2 the request itself is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bot.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, endpoints, fail, parse_pairs
from bot.cli.progress import ProgressLine
from bot.comfy import ComfyClient
from bot.config import Settings
from bot.errors import BotError, ConfigError, InvalidInput
from bot.imaging import normalise_image
from bot.jobs.backends import BackendPool
from bot.jobs.delivery import Receipt
from bot.jobs.engine import EngineLimits, JobEngine
from bot.jobs.model import Job, OutputRef
from bot.jobs.planning import Attachment, JobRequest
from bot.jobs.states import JobState
from bot.jobs.template_planner import TemplatePlanner
from bot.storage import Database, Spool
from bot.templates import TemplateSet, load_templates_lenient


@dataclass
class FolderSink:
    """Writes a job's results into a folder (the CLI's version of posting to Discord)."""

    folder: Path
    written: list[Path] = field(default_factory=list)

    async def deliver(self, job: Job, outputs: Sequence[OutputRef]) -> Receipt:
        self.folder.mkdir(parents=True, exist_ok=True)
        for output in outputs:
            target = self.folder / f"{job.template}-{job.id}-{output.index + 1}{output.path.suffix}"
            data = await asyncio.to_thread(output.path.read_bytes)
            await asyncio.to_thread(target.write_bytes, data)
            self.written.append(target)
        return Receipt()

    async def notify_end(self, job: Job) -> Receipt:
        return Receipt()


def _attachments(templates: TemplateSet, template: str, images: dict[str, str]) -> list[Attachment]:
    found = templates.get(template)
    problems = []
    attachments = []
    for name, raw_path in images.items():
        if found is not None and (not found.has_param(name) or not found.param(name).is_file):
            problems.append(f"--image {name}: /{template} has no image parameter named {name!r}")
            continue
        path = Path(raw_path).expanduser()
        if not path.is_file():
            problems.append(f"--image {name}: no such file: {raw_path}")
            continue
        try:
            image = normalise_image(path.read_bytes(), what=f"file {raw_path}")
        except InvalidInput as exc:
            problems.append(f"--image {name}: {exc.user_message}")
            continue
        attachments.append(Attachment(name, path.stem + ".png", image.data))
    if problems:
        raise ConfigError(problems)
    return attachments


async def _wait_for_backend(pool: BackendPool, template: str, patience: float) -> str | None:
    """None once a backend can run ``template``; otherwise why not, after ``patience`` seconds."""
    deadline = time.monotonic() + patience
    while True:
        if any(b.healthy and b.can_run(template) for b in pool.backends):
            return None
        if any(b.healthy and b.object_info is not None for b in pool.backends):
            reasons = sorted({r for b in pool.backends for r in b.problems.get(template, [])})
            return f"no backend can run /{template}: " + "; ".join(reasons or ["unknown reason"])
        if time.monotonic() >= deadline:
            names = ", ".join(b.name for b in pool.backends)
            errors = {b.client.connection.last_error for b in pool.backends if b.client.connection.last_error}
            return f"could not reach ComfyUI at {names}" + (
                f" ({'; '.join(sorted(errors))})" if errors else ""
            )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.05, deadline - time.monotonic())):
                await pool.wait_changed()


async def run_generate(settings: Settings, args: argparse.Namespace) -> int:
    try:
        backends = endpoints(settings, args.backend)
        values = parse_pairs(args.values, "--set")
        images = parse_pairs(args.images, "--image")
    except ConfigError as exc:
        fail(exc.user_message)
        return EXIT_USAGE
    templates, problems = load_templates_lenient(settings.workflows_dir)
    if args.template not in templates:
        known = ", ".join(templates.names) or "none"
        fail(f"no template named {args.template!r} (known: {known})")
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        attachments = _attachments(templates, args.template, images)
    except ConfigError as exc:
        fail(exc.user_message)
        return EXIT_USAGE
    with tempfile.TemporaryDirectory(prefix="comfycord-") as scratch:
        return await _generate(settings, args, backends, templates, attachments, values, Path(scratch))


async def _generate(
    settings: Settings,
    args: argparse.Namespace,
    backends: Sequence[object],
    templates: TemplateSet,
    attachments: list[Attachment],
    values: dict[str, str],
    scratch: Path,
) -> int:
    planner = TemplatePlanner(templates)
    sink = FolderSink(Path(args.out))
    started = time.monotonic()
    async with aiohttp.ClientSession() as session, await Database.open_in(scratch) as db:
        clients = [ComfyClient(session, e, timeout=settings.comfyui_timeout) for e in backends]  # type: ignore[arg-type]
        pool = BackendPool(clients, capacity=1, capability_check=planner.capabilities, probe_interval=2.0)
        engine = JobEngine(
            db,
            pool,
            planner,
            Spool.in_data_dir(scratch),
            limits=EngineLimits(max_runtime=settings.job_max_runtime, max_attempts=2, reconnect_grace=10.0),
        )
        engine.set_sink(sink)
        await pool.start()
        try:
            request = JobRequest(
                user_id=0, channel_id=0, template=args.template, values=values, attachments=attachments
            )
            try:
                job = await engine.submit(request)
            except BotError as exc:
                fail(exc.user_message)
                return EXIT_USAGE
            problem = await _wait_for_backend(pool, args.template, settings.comfyui_timeout)
            if problem is not None:
                fail(problem)
                return EXIT_FAILED
            box = engine.updates.subscribe(job.id)
            await engine.start()
            line = ProgressLine(sys.stderr, enabled=not args.json)
            final = job
            while final.state not in (JobState.DELIVERED, JobState.FAILED, JobState.CANCELLED):
                for update in await box.get():
                    final = update.job
                    line.show(update)
            line.close()
        finally:
            await engine.close()
            await pool.close()
    return _report(args, final, sink, time.monotonic() - started)


def _report(args: argparse.Namespace, job: Job, sink: FolderSink, seconds: float) -> int:
    ok = job.state is JobState.DELIVERED
    seed = next((v for k, v in job.params.items() if "seed" in k and isinstance(v, int)), None)
    if args.json:
        summary = {
            "job": job.id,
            "template": job.template,
            "status": "succeeded" if ok else job.state.value,
            "error": job.failure_reason,
            "seed": seed,
            "params": dict(job.params),
            "backend": job.backend,
            "outputs": [str(p) for p in sink.written],
            "timings": {
                "total_s": round(seconds, 3),
                "run_s": round(job.finished_at - job.started_at, 3)
                if job.finished_at and job.started_at
                else None,
            },
        }
        print(json.dumps(summary, indent=2))
    elif ok:
        print(f"/{job.template} done in {seconds:.1f}s (seed {seed}); saved:")
        for path in sink.written:
            print(f"  {path}")
    else:
        fail(f"job {job.id} {job.state.value}: {job.failure_reason}")
    return EXIT_OK if ok else EXIT_FAILED
