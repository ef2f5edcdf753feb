"""``comfycord check``: load every template and show which backends can run which."""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp

from bot.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, endpoints, fail
from bot.cli.server_notes import ImportFailure, import_failures, missing_node_types, read_log
from bot.comfy import ComfyHttp, Endpoint, RetryPolicy
from bot.config import Settings
from bot.errors import ComfyError, ConfigError
from bot.templates import Template, TemplateSet, load_templates_lenient, preflight
from bot.templates.outputs import describe_outputs, vary_mode


def _param_summary(template: Template) -> str:
    parts = []
    for param in template.options:
        mark = "*" if param.required else ""
        parts.append(f"{param.name}{mark}:{param.type.value}")
    return " ".join(parts) or "-"


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows)


async def run_check(settings: Settings, urls: Sequence[str]) -> int:
    try:
        backends = endpoints(settings, urls) if urls else ()
    except ConfigError as exc:
        fail(exc.user_message)
        return EXIT_USAGE
    templates, problems = load_templates_lenient(
        settings.workflows_dir, max_file_bytes=settings.workflow_max_bytes
    )
    status = EXIT_OK
    print(f"{len(templates)} template(s) in {settings.workflows_dir}")
    if len(templates):
        rows = [["command", "source", "parameters (* required)"]]
        rows += [[f"/{t.name}", t.source, _param_summary(t)] for t in templates]
        print(_table(rows))
        print("\nwhat each template delivers:")
        for template in templates:
            vary = vary_mode(template)
            batch = "" if vary.value == "off" else f"; batches vary by {vary.value.replace('_', ' ')}"
            print(f"  /{template.name}: {describe_outputs(template)}{batch}")
    if problems:
        status = EXIT_FAILED
        print(f"\n{len(problems)} problem(s):")
        for problem in problems:
            print(f"  - {problem}")
    if not backends:
        print("\n(no --backend given: only the files were checked)")
        return status
    async with aiohttp.ClientSession() as session:
        for endpoint in backends:
            if not await _check_backend(session, endpoint, templates, settings):
                status = EXIT_FAILED
    return status


async def _check_backend(
    session: aiohttp.ClientSession, endpoint: Endpoint, templates: TemplateSet, settings: Settings
) -> bool:
    """Print which templates ``endpoint`` can run and why not; True when it runs them all."""
    http = ComfyHttp(session, endpoint, timeout=settings.comfyui_timeout, retry=RetryPolicy.never())
    print(f"\nbackend {endpoint.name}:")
    try:
        info = await http.object_info()
    except ComfyError as exc:
        print(f"  unreachable: {exc}")
        return False
    all_ok = True
    failures: list[ImportFailure] | None = None
    for template in templates:
        capability = preflight(template, info, backend=endpoint.name)
        if capability.ok:
            print(f"  /{template.name}: ok, delivers {describe_outputs(template, info)}")
            continue
        all_ok = False
        print(f"  /{template.name}: cannot run")
        for reason in capability.reasons:
            print(f"      - {reason}")
        if missing_node_types(capability.reasons):
            # A custom node pack that fails to import leaves no trace but in the server's log.
            if failures is None:
                failures = import_failures(await read_log(session, endpoint, settings.comfyui_timeout) or ())
            for failure in failures:
                print(f"      - the server's log: {failure.module} failed to import ({failure.reason})")
    return all_ok
