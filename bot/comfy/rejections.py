"""Turn ComfyUI's ``POST /prompt`` validation bodies into per-node problems a person can act on.

Shapes: shared/reference/comfyui-protocol.md §3.1, recorded in transcript 04.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.comfy.jsonshape import as_mapping
from bot.errors import NodeProblem, PromptRejected

_NODE_ID_IN_DETAILS = re.compile(r"Node ID '#([^']+)'")


def without_input_name(details: str, input_name: object) -> str:
    """ComfyUI starts most details with the input's name ("image - Invalid image file: x.png",
    "steps", "images, received_type(MASK) ..."); the problem already names the input, so drop it."""
    if not isinstance(input_name, str) or not input_name or not details.startswith(input_name):
        return details
    rest = details[len(input_name) :]
    if not rest:
        return ""
    separator = re.match(r"\s*[-:,]\s*", rest)
    return rest[separator.end() :] if separator else details


def _plain_words(error_type: str, message: str, details: str, extra: Mapping[str, Any]) -> str:
    """Rephrase one validation error; fall back to ComfyUI's own words."""
    received = extra.get("received_value")
    config = extra.get("input_config")
    expected = config[0] if isinstance(config, list) and config and isinstance(config[0], str) else None
    if error_type == "required_input_missing":
        return "a required input is missing"
    if error_type == "invalid_input_type" and expected:
        return f"{received!r} is not a valid {expected} value"
    if error_type == "value_not_in_list":
        options = config[0] if isinstance(config, list) and config and isinstance(config[0], list) else None
        if options:
            shown = ", ".join(map(str, options[:8])) + (", ..." if len(options) > 8 else "")
            return f"{received!r} is not offered by this server (choices: {shown})"
        return f"{received!r} is not offered by this server"
    if error_type == "return_type_mismatch":
        return f"it is linked to a {extra.get('received_type', '?')} output but needs {expected or '?'}"
    if error_type == "custom_validation_failed" and details:
        return details
    if error_type == "exception_during_validation" and extra.get("exception_type") == "KeyError":
        return f"it links to node {details} which is not in the workflow"
    if details and details not in message:
        return f"{message}: {details}"
    return message


def _linking_input(graph: Mapping[str, Any], node_id: str, missing: str) -> str | None:
    """Which input of ``node_id`` links to the ``missing`` node (ComfyUI does not say)."""
    inputs = as_mapping(as_mapping(graph.get(node_id)).get("inputs"))
    for name, value in inputs.items():
        if isinstance(value, list) and value and str(value[0]) == missing:
            return str(name)
    return None


def _node_problems(node_errors: Mapping[str, Any], graph: Mapping[str, Any]) -> list[NodeProblem]:
    problems: list[NodeProblem] = []
    for node_id, entry in node_errors.items():
        if not isinstance(entry, Mapping):
            continue
        class_type = str(entry.get("class_type") or "")
        for error in entry.get("errors") or []:
            if not isinstance(error, Mapping):
                continue
            extra = as_mapping(error.get("extra_info"))
            error_type = str(error.get("type") or "unknown")
            message = str(error.get("message") or error_type)
            input_name = extra.get("input_name")
            details = without_input_name(str(error.get("details") or ""), input_name)
            if input_name is None and extra.get("exception_type") == "KeyError":
                input_name = _linking_input(graph, str(node_id), details.strip("'\""))
            problems.append(
                NodeProblem(
                    node_id=str(node_id),
                    class_type=class_type,
                    input_name=str(input_name) if input_name is not None else None,
                    error_type=error_type,
                    message=_plain_words(error_type, message, details, extra),
                    details=details,
                )
            )
    return problems


def rejection_from_body(
    body: object,
    *,
    partial: bool = False,
    prompt_id: str | None = None,
    graph: Mapping[str, Any] | None = None,
    server: str | None = None,
) -> PromptRejected:
    """Build a PromptRejected from a 400 body (or a 200 body whose node_errors is not empty)."""
    data = as_mapping(body)
    error = as_mapping(data.get("error"))
    error_type = str(error.get("type") or ("partial_validation" if partial else "unknown"))
    message = str(error.get("message") or "the workflow did not validate")
    node_errors = data.get("node_errors")
    problems = _node_problems(node_errors, graph or {}) if isinstance(node_errors, Mapping) else []
    if not problems and error_type == "invalid_prompt":
        match = _NODE_ID_IN_DETAILS.search(str(error.get("details") or ""))
        if match:
            problems.append(NodeProblem(match.group(1), "", None, error_type, message))
    return PromptRejected(error_type, message, problems, partial=partial, prompt_id=prompt_id, server=server)
