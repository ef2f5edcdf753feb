"""POST /prompt validation with the server's error shapes (execution.validate_prompt semantics)."""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass, field
from typing import Any

from .nodes import NODES, Env, NodeDef


def full_type_name(klass: type) -> str:
    module = klass.__module__
    return klass.__qualname__ if module == "builtins" else f"{module}.{klass.__qualname__}"


def is_link(value: Any) -> bool:
    return isinstance(value, list)


def types_compatible(received: Any, expected: Any) -> bool:
    """validate_node_input (non-strict): equal, wildcard, or overlapping comma-separated type sets."""
    if received == expected:
        return True
    if not isinstance(received, str) or not isinstance(expected, str):
        return False
    got = {t.strip() for t in received.split(",")}
    want = {t.strip() for t in expected.split(",")}
    return "*" in got or "*" in want or bool(got & want)


def _error(kind: str, message: str, details: str, extra_info: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": kind, "message": message, "details": details, "extra_info": extra_info or {}}


@dataclass
class Validation:
    """Result of validate_prompt: `outputs` are the output nodes that will run."""

    ok: bool
    error: dict[str, Any] | None
    outputs: list[str] = field(default_factory=list)
    node_errors: dict[str, Any] = field(default_factory=dict)


class _Validator:
    def __init__(self, env: Env, prompt: dict[str, Any]) -> None:
        self.env = env
        self.prompt = prompt
        self.validated: dict[str, tuple[bool, list[dict[str, Any]], str]] = {}
        self._active: set[str] = set()

    def node(self, unique_id: str) -> tuple[bool, list[dict[str, Any]], str]:
        if unique_id in self.validated:
            return self.validated[unique_id]
        if unique_id in self._active:
            # The real server recurses until Python gives up; report the same kind of failure at once.
            raise RecursionError("maximum recursion depth exceeded")
        self._active.add(unique_id)
        try:
            result = self._node(unique_id)
        finally:
            self._active.discard(unique_id)
        self.validated[unique_id] = result
        return result

    def _node(self, unique_id: str) -> tuple[bool, list[dict[str, Any]], str]:
        inputs = self.prompt[unique_id]["inputs"]
        nodedef = NODES[self.prompt[unique_id]["class_type"]]
        types = nodedef.input_types(self.env)
        categories = dict.fromkeys(types.get("required", {}), "required")
        categories.update((name, "optional") for name in types.get("optional", {}) if name not in categories)
        errors: list[dict[str, Any]] = []
        valid = True
        for name, category in categories.items():
            spec = types[category][name]
            input_type = spec[0]
            extra = spec[1] if len(spec) > 1 else {}
            info = [input_type, extra]
            if name not in inputs:
                if category == "required":
                    errors.append(
                        _error(
                            "required_input_missing", "Required input is missing", name, {"input_name": name}
                        )
                    )
                continue
            value = inputs[name]
            if is_link(value):
                problem, upstream_ok = self._check_link(nodedef, name, value, input_type, info)
                if problem is not None:
                    errors.append(problem)
                valid = valid and upstream_ok
                continue
            problem = self._check_value(nodedef, inputs, name, input_type, extra, info)
            if problem is not None:
                errors.append(problem)
        if nodedef.validate is not None:
            errors.extend(self._custom(nodedef, inputs))
        return (not errors and valid, errors, unique_id)

    def _check_link(
        self, nodedef: NodeDef, name: str, value: list[Any], input_type: Any, info: list[Any]
    ) -> tuple[dict[str, Any] | None, bool]:
        if len(value) != 2:
            return _error(
                "bad_linked_input",
                "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                name,
                {"input_name": name, "input_config": info, "received_value": value},
            ), True
        source_id, slot = value
        received_type = NODES[self.prompt[source_id]["class_type"]].output[slot]
        if not types_compatible(received_type, input_type):
            return _error(
                "return_type_mismatch",
                "Return type mismatch between linked nodes",
                f"{name}, received_type({received_type}) mismatch input_type({input_type})",
                {
                    "input_name": name,
                    "input_config": info,
                    "received_type": received_type,
                    "linked_node": value,
                },
            ), True
        try:
            upstream_ok = self.node(source_id)[0]
        except Exception as ex:
            _, _, tb = sys.exc_info()
            self.validated[source_id] = (
                False,
                [
                    _error(
                        "exception_during_inner_validation",
                        "Exception when validating inner node",
                        str(ex),
                        {
                            "input_name": name,
                            "input_config": info,
                            "exception_message": str(ex),
                            "exception_type": full_type_name(type(ex)),
                            "traceback": traceback.format_tb(tb),
                            "linked_node": value,
                        },
                    )
                ],
                source_id,
            )
            return None, False
        return None, upstream_ok

    def _check_value(
        self,
        nodedef: NodeDef,
        inputs: dict[str, Any],
        name: str,
        input_type: Any,
        extra: dict[str, Any],
        info: list[Any],
    ) -> dict[str, Any] | None:
        value = inputs[name]
        try:
            if isinstance(value, dict) and "__value__" in value:
                value = inputs[name] = value["__value__"]
            converter = {"INT": int, "FLOAT": float, "STRING": str, "BOOLEAN": bool}.get(
                input_type if isinstance(input_type, str) else ""
            )
            if converter is not None:
                value = inputs[name] = converter(value)
        except Exception as ex:
            return _error(
                "invalid_input_type",
                f"Failed to convert an input value to a {input_type} value",
                f"{name}, {value}, {ex}",
                {
                    "input_name": name,
                    "input_config": info,
                    "received_value": value,
                    "exception_message": str(ex),
                },
            )
        if name in nodedef.validate_inputs:
            return None
        if "min" in extra and value < extra["min"]:
            return _error(
                "value_smaller_than_min",
                f"Value {value} smaller than min of {extra['min']}",
                name,
                {"input_name": name, "input_config": info, "received_value": value},
            )
        if "max" in extra and value > extra["max"]:
            return _error(
                "value_bigger_than_max",
                f"Value {value} bigger than max of {extra['max']}",
                name,
                {"input_name": name, "input_config": info, "received_value": value},
            )
        if isinstance(input_type, list) and value not in input_type:
            config: list[Any] | None = info
            listing = str(input_type)
            if len(input_type) > 20:
                listing, config = f"(list of length {len(input_type)})", None
            return _error(
                "value_not_in_list",
                "Value not in list",
                f"{name}: '{value}' not in {listing}",
                {"input_name": name, "input_config": config, "received_value": value},
            )
        return None

    def _custom(self, nodedef: NodeDef, inputs: dict[str, Any]) -> list[dict[str, Any]]:
        assert nodedef.validate is not None
        given = {
            name: inputs[name]
            for name in nodedef.validate_inputs
            if name in inputs and not is_link(inputs[name])
        }
        if not given:
            return []
        result = nodedef.validate(self.env, given)
        if result is True:
            return []
        errors = []
        for name in given:
            details = name if result is False else f"{name} - {result}"
            errors.append(
                _error(
                    "custom_validation_failed",
                    "Custom validation failed for node",
                    details,
                    {"input_name": name},
                )
            )
        return errors


def validate_prompt(env: Env, prompt: dict[str, Any], partial_targets: list[Any] | None) -> Validation:
    """Validate an API-format graph the way POST /prompt does (coercing values in place)."""
    outputs: list[str] = []
    for node_id, node in prompt.items():
        if not isinstance(node, dict) or "class_type" not in node:
            message = "Cannot execute because a node is missing the class_type property."
            return Validation(False, _error("invalid_prompt", message, f"Node ID '#{node_id}'"))
        nodedef = None if env.settings.unavailable(node["class_type"]) else NODES.get(node["class_type"])
        if nodedef is None:
            message = f"Cannot execute because node {node['class_type']} does not exist."
            return Validation(False, _error("invalid_prompt", message, f"Node ID '#{node_id}'"))
        if nodedef.output_node and (partial_targets is None or node_id in partial_targets):
            outputs.append(node_id)
    if not outputs:
        return Validation(False, _error("prompt_no_outputs", "Prompt has no outputs", ""))

    # The server iterates a set of output ids; the recordings are consistent with reverse prompt order.
    outputs.reverse()
    validator = _Validator(env, prompt)
    good: list[str] = []
    failures: list[tuple[str, list[dict[str, Any]]]] = []
    node_errors: dict[str, Any] = {}
    for output in outputs:
        try:
            valid, reasons, _ = validator.node(output)
        except Exception as ex:
            _, _, tb = sys.exc_info()
            valid = False
            reasons = [
                _error(
                    "exception_during_validation",
                    "Exception when validating node",
                    str(ex),
                    {"exception_type": full_type_name(type(ex)), "traceback": traceback.format_tb(tb)},
                )
            ]
            validator.validated[output] = (False, reasons, output)
        if valid:
            good.append(output)
            continue
        failures.append((output, reasons))
        # Quirk kept on purpose: every node that has errors so far gets this output appended.
        for node_id, (node_ok, node_reasons, _) in validator.validated.items():
            if node_ok or not node_reasons:
                continue
            entry = node_errors.setdefault(
                node_id,
                {
                    "errors": node_reasons,
                    "dependent_outputs": [],
                    "class_type": prompt[node_id]["class_type"],
                },
            )
            entry["dependent_outputs"].append(output)

    if not good:
        details = "\n".join(f"{e['message']}: {e['details']}" for _, errs in failures for e in errs)
        error = _error("prompt_outputs_failed_validation", "Prompt outputs failed validation", details)
        return Validation(False, error, [], node_errors)
    return Validation(True, None, good, node_errors)
