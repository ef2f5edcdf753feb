"""``comfycord generate``: one job through the real engine, with a live progress line, into a folder.

The CLI drives the same JobEngine as the bot, on a throwaway database, so what works here works in
Discord. Exit codes: 0 done, 1 the job, a backend or saving the results failed, 2 the request itself
is wrong. Everything that can be checked before the job is submitted is: the values, the images (size
and header before they are read whole) and the ``--out`` folder.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
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
from bot.files import FileRefused, read_regular_file
from bot.imaging import MAX_IMAGE_FILE_BYTES, normalise_image, sniff_format
from bot.jobmodel.model import Job, OutputRef
from bot.jobmodel.states import JobState
from bot.jobs.backends import BackendPool
from bot.jobs.delivery import Receipt
from bot.jobs.engine import EngineLimits, JobEngine
from bot.jobs.planning import Attachment, JobRequest
from bot.jobs.template_planner import TemplatePlanner
from bot.jobs.updates import JobUpdate, Mailbox
from bot.storage import Database, Spool
from bot.templates import TemplateSet, load_templates_lenient


@dataclass
class FolderSink:
    """Writes a job's results into a folder (the CLI's version of posting to Discord).

    A write that fails (the folder became a file, the disk is full) will not succeed on a retry
    minutes later, and a one-shot tool must not sit waiting for it: the failure is kept in
    ``failure``, ``failed`` is set for the driver to end the run, and the delivery parks until the
    engine is closed instead of raising into the engine's retry loop.
    """

    folder: Path
    written: list[Path] = field(default_factory=list)
    failure: str | None = None
    failed: asyncio.Event = field(default_factory=asyncio.Event)

    async def deliver(self, job: Job, outputs: Sequence[OutputRef]) -> Receipt:
        try:
            await asyncio.to_thread(self._write_all, job, outputs)
        except OSError as exc:
            where = exc.filename or self.folder
            self.failure = f"could not save the results to {where}: {exc.strerror or exc}"
            self.failed.set()
            await asyncio.Event().wait()  # cancelled when the driver closes the engine
        return Receipt()

    def _write_all(self, job: Job, outputs: Sequence[OutputRef]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for output in outputs:
            target = self.folder / f"{job.template}-{job.id}-{output.index + 1}{output.path.suffix}"
            data = output.path.read_bytes()
            handle = target.open("xb")  # never replace a file that is already there
            try:
                with handle:
                    handle.write(data)
            except OSError:
                with contextlib.suppress(OSError):
                    target.unlink()  # our own partial file (a full disk)
                raise
            self.written.append(target)

    async def notify_end(self, job: Job) -> Receipt:
        return Receipt()


def _out_folder(raw: str) -> Path:
    return Path(raw).expanduser()


def out_problem(raw: str) -> str | None:
    """Why ``--out`` cannot receive the results (checked before anything is submitted), or None."""
    folder = _out_folder(raw)
    if folder.is_symlink() and not folder.exists():
        return f"--out {raw}: is a link to nothing"
    if folder.exists():
        if not folder.is_dir():
            return f"--out {raw}: is a file, not a folder; name a folder (it is created if it is missing)"
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"--out {raw}: the folder is not writable"
        return None
    parent = folder.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"--out {raw}: cannot be created, because {parent} is a file"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"--out {raw}: cannot be created in {parent} (not writable)"
    return None


def _fail_each(error: ConfigError) -> None:
    """One ``error:`` line per problem with the command line itself."""
    for problem in error.problems:
        fail(problem)


def _check_head(head: bytes) -> None:
    if sniff_format(head) is None:
        raise FileRefused(
            "is not an image I can read (it does not start like a PNG, JPEG, WebP, GIF or BMP file)"
        )


def read_image_file(raw_path: str, *, max_side: int) -> bytes:
    """An ``--image`` file as clean PNG bytes: its size and header are checked before it is read whole."""
    path = Path(raw_path).expanduser()
    data = read_regular_file(path, max_bytes=MAX_IMAGE_FILE_BYTES, check_head=_check_head)
    return normalise_image(data, what=f"file {raw_path}", max_side=max_side).data


def _attachments(
    templates: TemplateSet, template: str, images: dict[str, str], *, max_side: int
) -> list[Attachment]:
    found = templates.get(template)
    problems = []
    attachments = []
    for name, raw_path in images.items():
        if found is not None and (not found.has_param(name) or not found.param(name).is_file):
            problems.append(f"--image {name}: /{template} has no image parameter named {name!r}")
            continue
        try:
            data = read_image_file(raw_path, max_side=max_side)
        except FileRefused as exc:
            problems.append(f"--image {name}: {raw_path} {exc.reason}")
            continue
        except InvalidInput as exc:
            problems.append(f"--image {name}: {exc.user_message}")
            continue
        attachments.append(Attachment(name, Path(raw_path).stem + ".png", data))
    if problems:
        raise ConfigError(problems)
    return attachments


async def _next_updates(box: Mailbox, failed: asyncio.Event) -> list[JobUpdate] | None:
    """The next updates of the job, or None once the sink has failed for good."""
    if failed.is_set():
        return None
    updates = asyncio.ensure_future(box.get())
    stop = asyncio.ensure_future(failed.wait())
    try:
        await asyncio.wait((updates, stop), return_when=asyncio.FIRST_COMPLETED)
    finally:
        updates.cancel()
        stop.cancel()
    return updates.result() if updates.done() and not updates.cancelled() else None


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
        _fail_each(exc)
        return EXIT_USAGE
    if out_refused := out_problem(args.out):
        fail(out_refused)
        return EXIT_USAGE
    templates, problems = load_templates_lenient(
        settings.workflows_dir, max_file_bytes=settings.workflow_max_bytes
    )
    if args.template not in templates:
        known = ", ".join(templates.names) or "none"
        fail(f"no template named {args.template!r} (known: {known})")
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        attachments = _attachments(templates, args.template, images, max_side=settings.image_max_side)
    except ConfigError as exc:
        _fail_each(exc)
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
    sink = FolderSink(_out_folder(args.out))
    started = time.monotonic()
    async with aiohttp.ClientSession() as session, await Database.open_in(scratch) as db:
        cap = settings.output_max_bytes
        clients = [
            ComfyClient(session, e, timeout=settings.comfyui_timeout, max_output_bytes=cap)  # type: ignore[arg-type]
            for e in backends
        ]
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
                updates = await _next_updates(box, sink.failed)
                if updates is None:
                    break
                for update in updates:
                    final = update.job
                    line.show(update)
            line.close()
        finally:
            await engine.close()
            await pool.close()
    return _report(args, final, sink, time.monotonic() - started)


def _report(args: argparse.Namespace, job: Job, sink: FolderSink, seconds: float) -> int:
    ok = job.state is JobState.DELIVERED and sink.failure is None
    seed = next((v for k, v in job.params.items() if "seed" in k and isinstance(v, int)), None)
    if args.json:
        summary = {
            "job": job.id,
            "template": job.template,
            "status": "succeeded" if ok else ("not_saved" if sink.failure else job.state.value),
            "error": sink.failure or job.failure_reason,
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
    elif sink.failure:
        fail(f"job {job.id} ran, but {sink.failure}")
    else:
        fail(f"job {job.id} {job.state.value}: {job.failure_reason}")
    return EXIT_OK if ok else EXIT_FAILED
