"""``comfycord doctor``: check everything the bot needs before it runs, and say what to fix.

It reads the (already loaded) settings, the token's shape, DATA_DIR, the workflows, and asks every
backend for ``/system_stats``, its websocket and ``/object_info``. It never talks to Discord. Exit
code 0 when nothing needs fixing (warnings allowed), 1 otherwise.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO
from urllib.parse import urlsplit

import aiohttp

from bot.cli.common import EXIT_FAILED, EXIT_OK
from bot.cli.invite import application_id_from_token
from bot.cli.server_notes import (
    ImportFailure,
    import_failures,
    missing_node_types,
    preview_method,
    read_log,
    runs_on_cpu,
)
from bot.comfy import ComfyHttp, Endpoint, RetryPolicy
from bot.config import Settings
from bot.errors import BackendUnavailable, ComfyError, OriginForbidden, UnexpectedResponse
from bot.storage import DATABASE_FILE
from bot.templates import TemplateSet, load_templates_lenient, preflight
from bot.templates.loader import DEFAULT_MAX_FILE_BYTES

LOW_DISK_BYTES: Final = 1 << 30
LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})
GIB: Final = float(1 << 30)


@dataclass
class Report:
    """What doctor found: lines to print as it goes, and the problems and warnings to sum up."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def section(self, title: str) -> None:
        print(f"\n{title}", file=self.out)

    def ok(self, text: str, indent: int = 1) -> None:
        print(f"{'  ' * indent}ok       {text}", file=self.out)

    def info(self, text: str, indent: int = 1) -> None:
        print(f"{'  ' * indent}         {text}", file=self.out)

    def problem(self, text: str, fix: str, indent: int = 1) -> None:
        print(f"{'  ' * indent}PROBLEM  {text}", file=self.out)
        self.problems.append(f"{text}\n     -> {fix}")

    def warn(self, text: str, indent: int = 1) -> None:
        print(f"{'  ' * indent}warning  {text}", file=self.out)
        self.warnings.append(text)

    def summary(self) -> int:
        if self.warnings:
            print(f"\n{len(self.warnings)} warning(s):", file=self.out)
            for text in self.warnings:
                print(f"  - {text}", file=self.out)
        if not self.problems:
            print("\nAll good: the bot has what it needs.", file=self.out)
            return EXIT_OK
        print(f"\nTo fix ({len(self.problems)}):", file=self.out)
        for number, text in enumerate(self.problems, start=1):
            print(f"  {number}. {text}", file=self.out)
        return EXIT_FAILED


# --- configuration and token --------------------------------------------------------------------------


def check_settings(settings: Settings, report: Report) -> None:
    report.section("Configuration")
    report.ok(
        f"settings loaded: {len(settings.backends)} backend(s), DATA_DIR={settings.data_dir}, "
        f"WORKFLOWS_DIR={settings.workflows_dir}, {settings.max_in_flight} prompt(s) in flight per backend"
    )
    if not settings.owner_ids:
        report.warn("OWNER_IDS is empty: nobody can run the owner-only commands")
    if settings.metrics_port is not None:
        report.ok(f"metrics and /healthz will listen on {settings.metrics_host}:{settings.metrics_port}")


def check_token(settings: Settings, report: Report) -> None:
    report.section("Discord token")
    token = settings.discord_token.reveal()
    if not token:
        report.warn(
            "DISCORD_TOKEN is not set: everything else can be checked, but the bot will not start "
            "(Developer Portal -> your application -> Bot -> Reset Token, then put it in .env)"
        )
        return
    app_id = application_id_from_token(token)
    if app_id is None:
        report.problem(
            "DISCORD_TOKEN has three parts but the first does not decode to an application id",
            "copy the bot token again from Developer Portal -> Bot -> Reset Token (not the client "
            "secret or the public key)",
        )
        return
    report.ok(f"DISCORD_TOKEN is shaped like a bot token for application {app_id} (not checked online)")


# --- files ---------------------------------------------------------------------------------------------


def check_data_dir(path: Path, report: Report) -> None:
    """DATA_DIR exists (or can be made), takes a new file, and has room; the database is writable."""
    report.section("Data directory")
    if path.exists() and not path.is_dir():
        report.problem(f"DATA_DIR {path} is a file, not a folder", "point DATA_DIR at a folder")
        return
    if not path.exists():
        try:
            path.mkdir(parents=True)
        except OSError as exc:
            report.problem(
                f"DATA_DIR {path} does not exist and cannot be created ({exc.strerror or exc})",
                "create it, or point DATA_DIR somewhere the bot's user may write",
            )
            return
        report.ok(f"created {path}")
    try:
        handle, name = tempfile.mkstemp(prefix=".doctor-", dir=path)
        try:
            os.write(handle, b"ok")
        finally:
            os.close(handle)
            Path(name).unlink()
    except OSError as exc:
        report.problem(
            f"DATA_DIR {path} is not writable ({exc.strerror or exc})",
            f"give the bot's user write access to {path.resolve()} "
            "(in Docker: the /data volume must be writable by uid 10001)",
        )
        return
    report.ok(f"{path.resolve()} is writable")
    database = path / DATABASE_FILE
    for file in (database, database.with_name(database.name + "-wal")):
        if file.exists() and not os.access(file, os.W_OK):
            report.problem(f"{file} is not writable", f"give the bot's user write access to {file}")
    free = shutil.disk_usage(path).free
    if free < LOW_DISK_BYTES:
        report.warn(f"only {free / GIB:.2f} GiB free under {path}: spooled images and the database need room")


def check_workflows(
    directory: Path, report: Report, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> TemplateSet:
    report.section("Workflows")
    templates, problems = load_templates_lenient(directory, max_file_bytes=max_file_bytes)
    if len(templates):
        names = ", ".join(f"/{t.name}" for t in templates)
        report.ok(f"{len(templates)} template(s) in {directory}: {names}")
    elif not problems:
        report.problem(
            f"no workflow templates in {directory}",
            "export a workflow from ComfyUI with Export (API) into WORKFLOWS_DIR (see workflows/README.md)",
        )
    for problem in problems:
        report.problem(
            str(problem), "fix the file (details in workflows/README.md), then run comfycord check"
        )
    return templates


# --- backends --------------------------------------------------------------------------------------------


def _in_container() -> bool:
    return Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()


_CONNECT_ERRORS: Final = (
    ("DNSError", "the host name does not resolve"),
    ("Certificate", "its TLS certificate is not trusted"),
    ("SSL", "the TLS handshake failed"),
    ("ClientConnectorError", "connection refused or host unreachable"),
    ("timed out", "timed out"),
)


def unreachable_reason(error: ComfyError) -> str:
    """A short, plain reason a request to a backend failed."""
    if isinstance(error, BackendUnavailable):
        return next((text for key, text in _CONNECT_ERRORS if key in error.reason), error.reason)
    return str(error)


def unreachable_fix(endpoint: Endpoint, error: ComfyError) -> str:
    """What to do about a backend that did not answer, by the kind of failure."""
    host = (urlsplit(endpoint.base_url).hostname or "").lower()
    if isinstance(error, OriginForbidden):
        return (
            "a proxy in front of ComfyUI sends an Origin header ComfyUI refuses (403): make the proxy "
            "stop adding Origin, or start ComfyUI with --enable-cors-header"
        )
    if isinstance(error, UnexpectedResponse) and error.status in (401, 403):
        return "the server wants credentials: set COMFYUI_AUTH_<n> (bearer:, basic: or header:) for it"
    if isinstance(error, UnexpectedResponse):
        return (
            f"something other than ComfyUI answers at {endpoint.base_url}: check the URL and any proxy path"
        )
    fix = f"start ComfyUI (with --listen if the bot runs on another machine) or correct {endpoint.base_url}"
    if host in LOOPBACK_HOSTS and _in_container():
        fix += (
            "; inside a container localhost is the container itself: use http://host.docker.internal:8188 "
            "(docker run --add-host=host.docker.internal:host-gateway) or the compose service name"
        )
    return fix


def _describe_stats(stats: Mapping[str, Any]) -> list[str]:
    raw_system = stats.get("system")
    system: Mapping[str, Any] = raw_system if isinstance(raw_system, Mapping) else {}
    version = system.get("comfyui_version") or "unknown version"
    python = str(system.get("python_version") or "?").split(" ", 1)[0]
    lines = [f"ComfyUI {version} (Python {python}, PyTorch {system.get('pytorch_version') or '?'})"]
    devices = stats.get("devices")
    for device in devices if isinstance(devices, list) else []:
        if not isinstance(device, Mapping):
            continue
        vram = device.get("vram_total")
        memory = f", {vram / GIB:.1f} GiB" if isinstance(vram, (int, float)) and vram else ""
        lines.append(f"device {device.get('name') or '?'} ({device.get('type') or '?'}{memory})")
    if not isinstance(devices, list) or not devices:
        lines.append("no devices reported")
    return lines


async def _upload_limit(http: ComfyHttp) -> float | None:
    """The request body limit ComfyUI announces in ``/features`` (older versions do not)."""
    try:
        features = await http.features()
    except ComfyError:
        return None
    limit = features.get("max_upload_size")
    return float(limit) if isinstance(limit, (int, float)) and limit > 0 else None


async def _check_websocket(session: aiohttp.ClientSession, endpoint: Endpoint, seconds: float) -> str | None:
    """None when ``/ws`` opens, else why not; a throwaway client id, so a running bot is not disturbed."""
    url = endpoint.ws_url(f"comfycord-doctor-{uuid.uuid4().hex}")
    try:
        async with asyncio.timeout(seconds):
            ws = await session.ws_connect(url, headers=endpoint.auth.headers())
            await ws.close()
    except TimeoutError:
        return "timed out"
    except aiohttp.WSServerHandshakeError as exc:
        return f"handshake refused with HTTP {exc.status}"
    except (aiohttp.ClientError, OSError) as exc:
        return type(exc).__name__
    return None


@dataclass(frozen=True, slots=True)
class BackendFindings:
    """Why one backend cannot run each template (empty lists: it can), and what its log adds."""

    reasons: dict[str, list[str]]
    import_failures: tuple[ImportFailure, ...] = ()


def check_start_options(
    endpoint: Endpoint, stats: Mapping[str, Any], settings: Settings, report: Report
) -> None:
    """Warn about how the server was started: on the CPU, or without live previews."""
    if runs_on_cpu(stats):
        report.warn(
            f"backend {endpoint.name} computes on the CPU (no GPU in use): an image takes minutes there; "
            "check that ComfyUI is not started with --cpu and that its PyTorch build sees the GPU",
            2,
        )
    method = preview_method(stats)
    if method is None:
        return
    if method == "none" and settings.live_previews:
        report.warn(
            f"backend {endpoint.name} sends no live previews (ComfyUI was started without "
            "--preview-method): add --preview-method auto (or taesd) to its command line, or set "
            "LIVE_PREVIEWS=false",
            2,
        )
    elif method != "none":
        report.info(f"live previews on (--preview-method {method})", 2)


def _import_hints(findings: BackendFindings, template: str) -> str:
    """A sentence naming the modules that failed to import, when node types are missing."""
    if not missing_node_types(findings.reasons.get(template, ())) or not findings.import_failures:
        return ""
    failed = "; ".join(str(f) for f in findings.import_failures)
    return f"ComfyUI's log says these node modules failed to import: {failed}"


async def check_backend(
    session: aiohttp.ClientSession,
    endpoint: Endpoint,
    templates: TemplateSet,
    settings: Settings,
    report: Report,
    position: int,
) -> BackendFindings | None:
    """What this backend can run and why not; None when it cannot be used at all."""
    # Both: the operator sees which address members know as which name.
    print(f"\n  backend {position} ({endpoint.display_name}): {endpoint.name}", file=report.out)
    http = ComfyHttp(session, endpoint, timeout=settings.comfyui_timeout, retry=RetryPolicy.never())
    try:
        stats = await http.system_stats()
    except ComfyError as exc:
        report.problem(
            f"backend {endpoint.name} does not answer /system_stats: {unreachable_reason(exc)}",
            unreachable_fix(endpoint, exc),
            2,
        )
        return None
    lines = _describe_stats(stats)
    report.ok(lines[0], 2)
    for line in lines[1:]:
        report.info(line, 2)
    limit = await _upload_limit(http)
    if limit is not None:
        report.info(f"upload limit {limit / (1 << 20):.0f} MiB (--max-upload-size)", 2)
    check_start_options(endpoint, stats, settings, report)
    ws_problem = await _check_websocket(session, endpoint, settings.comfyui_timeout)
    if ws_problem is None:
        report.ok("websocket /ws opens", 2)
    else:
        report.problem(
            f"backend {endpoint.name}: the websocket /ws does not open ({ws_problem})",
            "the bot needs it for progress and results: a proxy in front of ComfyUI must forward "
            "websocket upgrades (Upgrade/Connection headers) on /ws",
            2,
        )
    try:
        info = await http.object_info()
    except ComfyError as exc:
        report.problem(
            f"backend {endpoint.name} does not answer /object_info: {unreachable_reason(exc)}",
            unreachable_fix(endpoint, exc),
            2,
        )
        return None
    reasons: dict[str, list[str]] = {}
    for template in templates:
        capability = preflight(template, info, backend=endpoint.name)
        reasons[template.name] = list(capability.reasons)
    failures = import_failures(await read_log(session, endpoint, settings.comfyui_timeout) or ())
    findings = BackendFindings(reasons, tuple(failures))
    for name, why in reasons.items():
        if why:
            report.info(f"cannot run /{name}: {'; '.join(why)}", 2)
            if hint := _import_hints(findings, name):
                report.info(hint, 3)
    runnable = sorted(name for name, why in reasons.items() if not why)
    if runnable:
        report.ok("can run " + ", ".join(f"/{name}" for name in runnable), 2)
    elif reasons:
        report.info("can run none of the templates", 2)
    custom = [f for f in failures if f.custom]
    if custom:
        report.warn(
            f"backend {endpoint.name}: custom nodes failed to import (their node types are missing): "
            + "; ".join(str(f) for f in custom),
            2,
        )
    return findings


async def check_backends(settings: Settings, templates: TemplateSet, report: Report) -> None:
    """Each backend in turn, then which templates no backend, or only some, can run."""
    report.section("ComfyUI backends")
    results: dict[str, BackendFindings] = {}
    async with aiohttp.ClientSession() as session:
        for position, endpoint in enumerate(settings.backends, start=1):
            found = await check_backend(session, endpoint, templates, settings, report, position)
            if found is not None:
                results[endpoint.name] = found
    if not results:
        return  # each backend already has its own problem listed
    for template in templates:
        able = [name for name, found in results.items() if not found.reasons.get(template.name)]
        if able and len(able) < len(settings.backends):
            report.warn(
                f"/{template.name} runs on {', '.join(able)} only; its jobs wait for "
                f"{'that backend' if len(able) == 1 else 'those backends'}"
            )
        if able:
            continue
        why = list(
            dict.fromkeys(r for found in results.values() for r in found.reasons.get(template.name, []))
        )
        report.problem(
            f"no backend can run /{template.name}: {'; '.join(why) or 'unknown reason'}",
            _fix_for(template.name, why, list(results.values())),
        )


def _fix_for(template: str, reasons: list[str], findings: list[BackendFindings]) -> str:
    """What to do about a template no backend can run: custom nodes need a restart, models a refresh."""
    missing = missing_node_types(reasons)
    if not missing:
        return (
            "install the missing models on a backend (then refresh ComfyUI or restart it), "
            "or remove the template from WORKFLOWS_DIR"
        )
    fix = (
        f"install the custom nodes that provide {', '.join(missing)} on a backend (ComfyUI-Manager's "
        "'Install Missing Custom Nodes' finds them) and restart ComfyUI, or remove the template from "
        "WORKFLOWS_DIR"
    )
    hints = list(dict.fromkeys(h for f in findings if (h := _import_hints(f, template))))
    return fix + ("; " + "; ".join(hints) if hints else "")


# --- the command -------------------------------------------------------------------------------------------


async def run_doctor(settings: Settings, *, out: TextIO | None = None) -> int:
    """Run every check, print as it goes, then the list of what to fix; 0 when nothing needs fixing."""
    report = Report(out or sys.stdout)
    print("comfycord doctor", file=report.out)
    check_settings(settings, report)
    check_token(settings, report)
    await asyncio.to_thread(check_data_dir, settings.data_dir, report)
    templates = await asyncio.to_thread(
        check_workflows, settings.workflows_dir, report, settings.workflow_max_bytes
    )
    await check_backends(settings, templates, report)
    return report.summary()
