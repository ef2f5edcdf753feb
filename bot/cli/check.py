"""``comfycord check``: load every template and show which backends can run which."""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp

from bot.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, endpoints, fail
from bot.comfy import ComfyHttp, RetryPolicy
from bot.config import Settings
from bot.errors import ComfyError, ConfigError
from bot.templates import Template, load_templates_lenient, preflight
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
            http = ComfyHttp(session, endpoint, timeout=settings.comfyui_timeout, retry=RetryPolicy.never())
            print(f"\nbackend {endpoint.name}:")
            try:
                info = await http.object_info()
            except ComfyError as exc:
                print(f"  unreachable: {exc}")
                status = EXIT_FAILED
                continue
            for template in templates:
                capability = preflight(template, info, backend=endpoint.name)
                if capability.ok:
                    print(f"  /{template.name}: ok, delivers {describe_outputs(template, info)}")
                else:
                    status = EXIT_FAILED
                    print(f"  /{template.name}: cannot run")
                    for reason in capability.reasons:
                        print(f"      - {reason}")
    return status
