"""Load ``workflows/``: every ``<stem>.json`` (API format) with its optional ``<stem>.toml`` manifest.

Everything is validated and every problem is reported at once, each with its file and parameter.
Files are read here; nothing else in the package touches the disk and nothing touches the network.

A bad file only disables its own template: only regular files that are inside the folder once links
are resolved are read, each up to a size limit, and a file that is too deep, not finite or not a
flowing graph is reported by name like any other mistake.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from bot.errors import InvalidParameter, TemplateError
from bot.files import FileRefused, FileTooLarge, describe_size, read_regular_file
from bot.strictjson import StrictJSONError, strict_loads
from bot.templates.checks import target_problems
from bot.templates.coerce import coerce_value
from bot.templates.discord_rules import command_problems, sanitize_command_name
from bot.templates.graph import class_of, inputs_of, link_source, shape_problems
from bot.templates.infer import infer_params
from bot.templates.manifest import (
    Problems,
    default_description,
    overlap_problems,
    parse_manifest,
    parse_outputs,
)
from bot.templates.model import SWAPPABLE_OUTPUTS, Action, ParamType, Problem, Template, TemplateSet
from bot.templates.sanity import structure_problem
from bot.templates.versions import version_id

log = logging.getLogger(__name__)

DEFAULT_MAX_FILE_BYTES: Final = 4 * 1024 * 1024
"""Largest workflow or manifest read (WORKFLOW_MAX_MB); real API exports are tens of KiB."""

SIZE_SETTING: Final = "WORKFLOW_MAX_MB"


def _parse_json(text: str) -> tuple[object, str | None]:
    try:
        data = strict_loads(text)
    except StrictJSONError as error:
        return None, f"invalid JSON: {error}"
    problem = structure_problem(data)
    return (None, f"unusable JSON: {problem}") if problem else (data, None)


def _parse_toml(text: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        return None, f"invalid TOML: {error}"
    except RecursionError:
        return None, "invalid TOML: it is nested too deeply"
    problem = structure_problem(data)
    return (None, f"unusable TOML: {problem}") if problem else (data, None)


def _output_problems(template: Template, problems: Problems) -> None:
    if not template.websocket_outputs:
        return
    for node_id in template.outputs:
        swapped = class_of(template.graph, node_id) in SWAPPABLE_OUTPUTS
        if swapped and link_source(inputs_of(template.graph, node_id).get("images")) is None:
            problems.add(
                "[outputs]", f"node {node_id} has no linked 'images' input to send over the websocket"
            )


def _inferred_template(graph: Mapping[str, Any], stem: str, source: str) -> tuple[Template, Problems]:
    problems = Problems()
    outputs = parse_outputs(graph, None, problems).nodes
    params = infer_params(graph)
    for param in params:
        for message in target_problems(graph, param):
            problems.add(f"param '{param.name}'", message)
    overlap_problems(params, problems)
    name = sanitize_command_name(stem)
    if not name:
        problems.add("[command]", f"cannot make a command name from the file name '{stem}'; add a manifest")
    template = Template(
        name=name,
        description=default_description(stem),
        graph=graph,
        params=params,
        outputs=outputs,
        source=source,
        inferred=True,
    )
    return template, problems


def parse_template(
    stem: str,
    graph_text: str,
    manifest_text: str | None = None,
    *,
    json_name: str | None = None,
    toml_name: str | None = None,
) -> tuple[Template | None, list[Problem]]:
    """Build one template from the text of its files (no I/O). The template is None if anything is wrong."""
    json_name = json_name or f"{stem}.json"
    toml_name = toml_name or f"{stem}.toml"
    problems: list[Problem] = []
    data, error = _parse_json(graph_text)
    if error:
        problems.append(Problem(json_name, error))
    else:
        problems.extend(Problem(json_name, message) for message in shape_problems(data))
    manifest: dict[str, Any] | None = None
    if manifest_text is not None:
        manifest, error = _parse_toml(manifest_text)
        if error:
            problems.append(Problem(toml_name, error))
    if problems:
        return None, problems
    assert isinstance(data, dict)
    if manifest is None:
        template, found = _inferred_template(data, stem, json_name)
        file = json_name
    else:
        template, found = parse_manifest(data, manifest, stem=stem, source=json_name)
        file = toml_name
    _output_problems(template, found)
    for where, message in command_problems(template):
        found.add(where, message)
    problems.extend(Problem(file, message, where) for where, message in found.items)
    return (None if problems else template), problems


def load_template(path: Path, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Template:
    """Load one ``<stem>.json`` (and ``<stem>.toml`` beside it, if any); raises ``TemplateError``."""
    template, problems = _load_file(path, path.parent, max_file_bytes)
    if template is None:
        raise TemplateError([str(p) for p in problems])
    return template


def decode_text(name: str, data: bytes) -> tuple[str | None, Problem | None]:
    """The text of a workflow or manifest file (UTF-8, a BOM allowed), or why it is not text."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        return None, Problem(name, f"not read: it is not UTF-8 text (byte {error.start} is invalid)")


def size_problem(name: str, size: int, max_bytes: int) -> Problem | None:
    """Why a file of ``size`` bytes is not read (the folder's limit), or None."""
    if size <= max_bytes:
        return None
    reason = f"is {describe_size(size)}; the limit is {describe_size(max_bytes)}"
    return Problem(name, f"not read: it {reason} (the {SIZE_SETTING} setting)")


def decode_upload(name: str, data: bytes, max_bytes: int) -> tuple[str | None, Problem | None]:
    """An uploaded file's text under the folder's size limit, with the folder's messages."""
    if problem := size_problem(name, len(data), max_bytes):
        return None, problem
    return decode_text(name, data)


def _read(path: Path, folder: Path, max_bytes: int, label: str) -> tuple[str | None, Problem | None]:
    try:
        data = read_regular_file(path, max_bytes=max_bytes, inside=folder)
    except FileTooLarge as refused:
        return None, Problem(label, f"not read: it {refused.reason} (the {SIZE_SETTING} setting)")
    except FileRefused as refused:
        return None, Problem(label, f"not read: it {refused.reason}")
    return decode_text(label, data)


@dataclass(frozen=True, slots=True)
class TemplateFiles:
    """The text of one template's files as read: ``<stem>.json`` and its optional manifest.

    ``json_name``/``toml_name`` are how problems name the files (e.g. ``drafts/x.json``).
    """

    stem: str
    workflow: str = field(repr=False)
    manifest: str | None = field(repr=False)
    json_name: str
    toml_name: str

    @property
    def version(self) -> str:
        return version_id(self.workflow, self.manifest)

    def parse(self) -> tuple[Template | None, list[Problem]]:
        """Build the template (no I/O); None with every problem if anything is wrong."""
        return parse_template(
            self.stem, self.workflow, self.manifest, json_name=self.json_name, toml_name=self.toml_name
        )


def read_template_files(
    path: Path, folder: Path, max_bytes: int, *, prefix: str = ""
) -> tuple[TemplateFiles | None, list[Problem]]:
    """Read ``path`` (a ``.json``) and the ``.toml`` beside it, hardened (see ``bot.files``)."""
    json_name, toml_name = f"{prefix}{path.name}", f"{prefix}{path.stem}.toml"
    graph_text, problem = _read(path, folder, max_bytes, json_name)
    if graph_text is None:
        return None, [problem] if problem else []
    manifest_path = path.with_suffix(".toml")
    manifest_text = None
    if manifest_path.is_symlink() or manifest_path.exists():  # a dangling link is reported, not skipped
        manifest_text, problem = _read(manifest_path, folder, max_bytes, toml_name)
        if manifest_text is None:
            return None, [problem] if problem else []
    return TemplateFiles(path.stem, graph_text, manifest_text, json_name, toml_name), []


def _load_file(path: Path, folder: Path, max_bytes: int) -> tuple[Template | None, list[Problem]]:
    files, problems = read_template_files(path, folder, max_bytes)
    if files is None:
        return None, problems
    return files.parse()


def _action_problem(action: Action, target: Template) -> tuple[Action, str | None]:
    images = [p.name for p in target.params if p.type is ParamType.IMAGE]
    image_param = action.image_param
    if not image_param:
        if len(images) != 1:
            found = ", ".join(images) or "none"
            return action, f"set image_param: /{target.name} has {len(images)} image parameters ({found})"
        image_param = images[0]
    elif image_param not in images:
        return action, f"/{target.name} has no image parameter '{image_param}' (image parameters: {images})"
    for name, value in action.values:
        if not target.has_param(name) or name == image_param:
            return action, f"value '{name}': /{target.name} has no such parameter to fix"
        try:
            coerce_value(target.param(name), value)
        except InvalidParameter as error:
            return action, f"value for /{target.name} {error.user_message}"
    return replace(action, image_param=image_param), None


def check_actions(
    templates: Mapping[str, Template], files: Mapping[str, str]
) -> tuple[dict[str, Template], list[Problem]]:
    """Resolve every action against the template it runs; broken actions are dropped and reported."""
    problems: list[Problem] = []
    checked: dict[str, Template] = {}
    for name, template in templates.items():
        kept: list[Action] = []
        for index, action in enumerate(template.actions, start=1):
            where = f"action {index} ('{action.label}')"
            target = templates.get(action.template)
            if target is None:
                problems.append(Problem(files[name], f"template '{action.template}' is not loaded", where))
                continue
            resolved, problem = _action_problem(action, target)
            if problem:
                problems.append(Problem(files[name], problem, where))
            else:
                kept.append(resolved)
        checked[name] = replace(template, actions=tuple(kept))
    return checked, problems


def _manifest_or_json(template: Template, directory: Path) -> str:
    toml_name = Path(template.source).with_suffix(".toml").name
    return template.source if template.inferred or not (directory / toml_name).exists() else toml_name


def listed(directory: Path, suffix: str) -> list[Path]:
    """``*<suffix>`` in the folder, hidden files (editor and macOS leftovers) left out."""
    return sorted(p for p in directory.glob(f"*{suffix}") if not p.name.startswith("."))


def load_templates_lenient(
    directory: Path, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> tuple[TemplateSet, list[Problem]]:
    """Every valid template in ``directory`` and every problem found; for ``comfycord check``.

    Nothing in the folder can stop the others from loading: a broken, huge, strange or unreadable
    file is one problem naming that file.
    """
    problems: list[Problem] = []
    loaded: dict[str, Template] = {}
    files: dict[str, str] = {}
    if not directory.is_dir():
        return TemplateSet({}), [Problem(str(directory), "the workflows folder does not exist")]
    json_paths = listed(directory, ".json")
    stems = {p.stem for p in json_paths}
    problems.extend(
        Problem(p.name, f"manifest without a workflow: there is no {p.stem}.json beside it")
        for p in listed(directory, ".toml")
        if p.stem not in stems
    )
    for path in json_paths:
        try:
            template, found = _load_file(path, directory, max_file_bytes)
        except Exception:
            # A check we did not think of tripped on this file: it alone stays out.
            log.exception("could not load the workflow %s", path.name)
            template, found = (
                None,
                [Problem(path.name, "could not be loaded (an internal error, see the log)")],
            )
        problems.extend(found)
        if template is None:
            continue
        file = _manifest_or_json(template, directory)
        if template.name in loaded:
            problems.append(
                Problem(
                    file,
                    f"command name '{template.name}' is already used by {files[template.name]}",
                    "[command]",
                )
            )
            continue
        loaded[template.name] = template
        files[template.name] = file
    checked, action_problems = check_actions(loaded, files)
    problems.extend(action_problems)
    return TemplateSet(checked), problems


def load_templates(directory: Path, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> TemplateSet:
    """Every template in ``directory``; raises ``TemplateError`` listing every problem if any."""
    templates, problems = load_templates_lenient(directory, max_file_bytes=max_file_bytes)
    if problems:
        raise TemplateError([str(p) for p in problems])
    return templates


def templates_from(items: Iterable[Template]) -> TemplateSet:
    """A TemplateSet from already built templates (tests, the CLI's single-file mode)."""
    return TemplateSet({t.name: t for t in items})
