"""What ``/template check``, ``list`` and ``show`` say, as text for Discord.

``check_report`` gives the report ``comfycord check`` prints (the templates and their parameters,
every problem with its file and parameter, and each backend's verdict on each template), laid out
for a code block or a text file: owners read the same words in the terminal and in Discord.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.jobs.template_manager import BackendCheck
from bot.storage import StoredVersion
from bot.templates import Param, ParamType, Template
from bot.templates.catalog import Entry
from bot.templates.folder import Area

AREA_WORDS = {Area.PUBLISHED: "published", Area.DRAFT: "draft", Area.RETIRED: "retired"}


def param_summary(template: Template) -> str:
    """``prompt*:text steps:int ...`` (required ones marked), as ``comfycord check`` shows them."""
    return " ".join(f"{p.name}{'*' if p.required else ''}:{p.type.value}" for p in template.options) or "-"


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows)


def check_report(
    templates: Sequence[Template],
    problems: Sequence[object],
    checks: Sequence[BackendCheck],
    *,
    where: str,
) -> tuple[str, bool]:
    """The report, and whether everything is fine (no problem, every backend can run everything)."""
    ok = not problems
    lines = [f"{len(templates)} template(s) in {where}"]
    if templates:
        rows = [["command", "source", "parameters (* required)"]]
        rows += [[f"/{t.name}", t.source, param_summary(t)] for t in templates]
        lines.append(_table(rows))
    if problems:
        lines.append(f"\n{len(problems)} problem(s):")
        lines += [f"  - {p}" for p in problems]
    if not checks:
        lines.append("\n(no image server is configured: only the files were checked)")
    for check in checks:
        lines.append(f"\nbackend {check.name}:")
        if check.error is not None:
            ok = False
            lines.append(f"  unreachable: {check.error}")
            continue
        for capability in check.capabilities:
            if capability.ok:
                lines.append(f"  /{capability.template}: ok")
            else:
                ok = False
                lines.append(f"  /{capability.template}: cannot run")
                lines += [f"      - {reason}" for reason in capability.reasons]
    return "\n".join(lines), ok


def _param_line(param: Param) -> str:
    parts = [f"{param.name}{'*' if param.required else ''}: {param.type.value}"]
    if param.default is not None:
        parts.append(f"default {param.default}")
    if param.min is not None or param.max is not None:
        low = "" if param.min is None else f"{param.min:g}"
        high = "" if param.max is None else f"{param.max:g}"
        parts.append(f"range {low}..{high}")
    if param.max_length is not None:
        parts.append(f"up to {param.max_length} characters")
    if param.type is ParamType.CHOICE:
        parts.append(
            "choices " + ", ".join(c.label for c in param.choices[:8])
            if param.choices
            else "choices from the image server"
        )
    targets = ", ".join(str(t) for t in param.targets)
    return " · ".join(parts) + f" → {targets}"


def show_text(entry: Entry, template: Template, history: Iterable[StoredVersion]) -> str:
    """``/template show``: where it is, its manifest or inferred parameters, outputs and history."""
    files = entry.files
    source = files.toml_name if files.manifest is not None else f"{files.json_name} (no manifest: inferred)"
    lines = [
        f"**/{template.name}** — {template.description}",
        f"{AREA_WORDS[entry.area]}, version `{entry.version}`, from `{source}`"
        + (", age-restricted" if template.nsfw else ""),
    ]
    if entry.broken:
        lines.append("⚠️ The files on disk are broken; this is the last good version:")
        lines += [f"• {p}" for p in entry.broken]
    lines.append("\n**Parameters** (* required)")
    lines += [f"• {_param_line(p)}" for p in template.options] or ["none"]
    lines.append(f"\n**Results from** node(s) {', '.join(template.outputs) or '-'}")
    if template.actions:
        lines.append("**Buttons** " + ", ".join(f"{a.label} → /{a.template}" for a in template.actions))
    versions = [
        f"`{v.version}` <t:{int(v.created_at)}:R>"
        + (f" by <@{v.created_by}>" if v.created_by else " (from the folder)")
        + (" ← current" if v.version == entry.version else "")
        for v in history
    ]
    if versions:
        lines.append("\n**Versions** (newest first; `/template restore` puts one back)")
        lines += versions
    return "\n".join(lines)
