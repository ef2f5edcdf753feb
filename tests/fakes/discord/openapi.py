"""Discord's OpenAPI 3.1 spec (``spec/openapi.json``), indexed by operation and compiled once per process.

The spec's conventions (its README) and how they are applied here:

* request bodies are specified strictly, responses by field types: both are checked as **closed**
  objects (a property the spec does not name is a violation), so the fake can neither accept a field
  Discord does not know nor invent one Discord does not send;
* int-parseable strings are accepted where the spec says integer, and integers where it says snowflake,
  in requests only (the API accepts both; discord.py sends permissions as strings and ids as ints).
  Responses are held to the exact types Discord sends (snowflakes and permissions as strings);
* a union whose branches each fix their own ``type`` values (components, command options, callbacks)
  is dispatched on ``type``: only the selected branch is checked, and a wrong ``type`` is reported as
  such. Other unions (``oneOf``, and ``anyOf`` marked ``x-discord-union: oneOf``) are checked as
  ``anyOf``: "exactly one" would refuse valid bodies where two partial schemas both fit
  (``execute_webhook``'s body) or where strings and integers are both accepted (the nonce).

``$ref``s are resolved once into shared Python objects (no resolver at validation time), and each
schema is also compiled to a fast yes/no check (:mod:`.fastcheck`); jsonschema explains the failures.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from jsonschema.validators import extend

from .fastcheck import DISCRIMINATED, compile_check

SPEC_FILE = Path(__file__).with_name("spec") / "openapi.json"
_REF_PREFIX = "#/components/schemas/"
_PARAM = re.compile(r"\{[^}]+\}")
_INT_STRING = "^-?[0-9]+$"
#: keywords that only document; dropped so validation does not walk them
_DOCUMENTATION = frozenset(
    {"description", "title", "x-discord-union", "format", "contentEncoding", "example"}
)


def _discriminated(validator: Any, spec: dict[str, Any], instance: Any, schema: dict[str, Any]) -> Any:
    if not validator.is_type(instance, "object"):
        yield ValidationError(
            f"{instance!r} is not of type 'object'", validator="type", validator_value="object"
        )
        return
    key, mapping = spec["property"], spec["mapping"]
    value = instance.get(key)
    branch = None if isinstance(value, bool) or not isinstance(value, int | str) else mapping.get(value)
    if branch is None:
        allowed = sorted(mapping, key=lambda v: (str(type(v)), v))
        yield ValidationError(
            f"{value!r} is not one of {allowed}",
            validator="enum",
            validator_value=allowed,
            instance=value,
            path=[key],
        )
        return
    yield from validator.descend(instance, branch)


SpecValidator = extend(Draft202012Validator, {DISCRIMINATED: _discriminated})


def shape(template: str) -> str:
    """A route template with its parameter names erased: ``/webhooks/{}/{}/messages/@original``."""
    return _PARAM.sub("{}", template)


@dataclass(frozen=True)
class Operation:
    """One spec operation: where its request and response schemas are, and its query parameters."""

    operation_id: str
    method: str
    path: str  #: the spec's template, e.g. ``/channels/{channel_id}/messages``
    request: dict[str, Any] | None  #: the ``application/json`` (or ``payload_json``) body schema
    body_required: bool
    multipart_fields: frozenset[str]  #: file part names the multipart form allows (``files[0]``...)
    query: dict[str, dict[str, Any]] = field(default_factory=dict)  #: name -> schema
    #: status key (``"200"``, ``"4XX"``) -> body schema, or None for "no body"
    responses: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def response_key(self, status: int) -> str | None:
        """The spec's response entry for ``status``: exact, else its class (``4XX``), else None."""
        for key in (str(status), f"{status // 100}XX"):
            if key in self.responses:
                return key
        return None

    def __str__(self) -> str:
        return f"{self.operation_id} ({self.method} {self.path})"


class _Compiler:
    """Turns the spec's component schemas into plain, ref-free schema objects for one direction."""

    def __init__(self, schemas: dict[str, Any], *, lenient: bool) -> None:
        self.raw = schemas
        self.lenient = lenient
        self.compiled: dict[str, dict[str, Any]] = {name: {} for name in schemas}
        self.open = _composed_names(schemas)
        for name, schema in schemas.items():
            self.compiled[name].update(self.convert(schema, keep_open=name in self.open))
            if name == "SnowflakeType" and lenient:
                self.compiled[name].update(type=["string", "integer"], minimum=0)

    def ref(self, ref: str) -> dict[str, Any]:
        if not ref.startswith(_REF_PREFIX):
            raise ValueError(f"unsupported $ref {ref!r}")
        return self.compiled[ref[len(_REF_PREFIX) :]]

    def discriminate(self, branches: list[Any]) -> dict[Any, dict[str, Any]] | None:
        """``type`` value -> branch, when every branch is a named object schema with a required ``type``
        of its own values (components, command options, callbacks): then only that branch is checked."""
        mapping: dict[Any, dict[str, Any]] = {}
        for branch in branches:
            ref = branch.get("$ref") if isinstance(branch, dict) else None
            if not isinstance(ref, str) or not ref.startswith(_REF_PREFIX):
                return None
            raw = self.raw[ref[len(_REF_PREFIX) :]]
            prop = raw.get("properties", {}).get("type", {})
            values = prop.get("enum") or ([prop["const"]] if "const" in prop else [])
            if not values or "type" not in raw.get("required", []):
                return None
            for value in values:
                if value in mapping or isinstance(value, bool):
                    return None
                mapping[value] = self.ref(ref)
        return mapping

    def convert(self, node: Any, *, keep_open: bool = False) -> Any:
        if isinstance(node, list):
            return [self.convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = self.ref(node["$ref"])
            rest = {k: v for k, v in node.items() if k != "$ref" and k not in _DOCUMENTATION}
            return {"allOf": [target], **self.convert(rest)} if rest else target
        out: dict[str, Any] = {}
        composing = node.get("type") == "object" and "allOf" in node
        for key, value in node.items():
            if key in _DOCUMENTATION:
                continue
            if key == "properties":
                out[key] = {name: self.convert(sub) for name, sub in value.items()}
            elif key == "allOf" and composing:
                out[key] = [self.convert(sub, keep_open=True) for sub in value]
            elif key in ("oneOf", "anyOf"):
                mapping = self.discriminate(value)
                if mapping is not None:
                    out[DISCRIMINATED] = {"property": "type", "mapping": mapping}
                else:
                    branches = self.convert(value)
                    if all(isinstance(b, dict) and set(b) == {"const"} for b in branches):
                        out["enum"] = [b["const"] for b in branches]  # an enum spelled as a union
                    else:  # ``null`` last: anyOf stops at the first match, and most values are not null
                        out["anyOf"] = sorted(branches, key=lambda b: b == {"type": "null"})
            else:
                out[key] = self.convert(value)
        if composing:
            out["unevaluatedProperties"] = False
        elif (
            "properties" in out
            and not keep_open
            and not {"additionalProperties", "patternProperties"} & set(out)
        ):
            out["additionalProperties"] = False
        if self.lenient:
            _accept_int_strings(out)
        return out


def _accept_int_strings(schema: dict[str, Any]) -> None:
    types = schema.get("type")
    if types == "integer" or (isinstance(types, list) and "integer" in types and "string" not in types):
        schema["type"] = [*(types if isinstance(types, list) else [types]), "string"]
        schema.setdefault("pattern", _INT_STRING)


def _composed_names(schemas: dict[str, Any]) -> set[str]:
    """Schemas used as parts of an object ``allOf`` (e.g. ``Error`` in ``ErrorResponse``): closing them
    on their own would refuse the composite's other properties, so the composite is closed instead."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "allOf" in node:
                for part in node["allOf"]:
                    if isinstance(part, dict) and "$ref" in part:
                        names.add(part["$ref"][len(_REF_PREFIX) :])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(schemas)
    return names


class OpenApiSpec:
    """The operations of the spec and their validators (built lazily, cached for the process)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.version = document.get("info", {}).get("version")
        self._requests = _Compiler(document["components"]["schemas"], lenient=True)
        self._responses = _Compiler(document["components"]["schemas"], lenient=False)
        self._responses_doc = document["components"].get("responses", {})
        self.operations: dict[tuple[str, str], Operation] = {}
        for path, item in document["paths"].items():
            shared = item.get("parameters", [])
            for method, op in item.items():
                if method == "parameters":
                    continue
                operation = self._operation(path, method.upper(), op, shared)
                self.operations[(operation.method, shape(path))] = operation
        self._validators: dict[tuple[str, str, str], CompiledSchema] = {}

    # ------------------------------------------------------------------ index
    def find(self, method: str, template: str) -> Operation | None:
        """The operation of a route template (any parameter names), or None if the spec has none."""
        return self.operations.get((method.upper(), shape(template)))

    def _operation(self, path: str, method: str, op: dict[str, Any], shared: list[Any]) -> Operation:
        body = op.get("requestBody") or {}
        content = body.get("content") or {}
        request = None
        if "application/json" in content:
            request = self._requests.convert(content["application/json"]["schema"])
        multipart: set[str] = set()
        for part in (content.get("multipart/form-data") or {}).get("schema", {}).get("allOf", []):
            multipart.update(name for name in part.get("properties", {}) if name.startswith("files["))
        query = {
            p["name"]: self._requests.convert(p.get("schema", {}))
            for p in [*shared, *op.get("parameters", [])]
            if p.get("in") == "query"
        }
        responses: dict[str, dict[str, Any] | None] = {}
        for status, answer in op.get("responses", {}).items():
            if "$ref" in answer:
                answer = self._responses_doc[answer["$ref"].rsplit("/", 1)[-1]]
            json_content = (answer.get("content") or {}).get("application/json")
            responses[status] = self._responses.convert(json_content["schema"]) if json_content else None
        return Operation(
            op["operationId"],
            method,
            path,
            request,
            bool(body.get("required")),
            frozenset(multipart),
            query,
            responses,
        )

    # ------------------------------------------------------------------ validators
    def request_validator(self, operation: Operation) -> CompiledSchema | None:
        if operation.request is None:
            return None
        return self._validator(operation, "request", operation.request)

    def query_validator(self, operation: Operation, name: str) -> CompiledSchema | None:
        schema = operation.query.get(name)
        return None if schema is None else self._validator(operation, f"query:{name}", schema)

    def response_validator(self, operation: Operation, key: str) -> CompiledSchema | None:
        schema = operation.responses.get(key)
        return None if schema is None else self._validator(operation, f"response:{key}", schema)

    def _validator(self, operation: Operation, kind: str, schema: dict[str, Any]) -> CompiledSchema:
        cache_key = (operation.method, operation.path, kind)
        validate = self._validators.get(cache_key)
        if validate is None:
            validate = self._validators[cache_key] = CompiledSchema(schema, f"{operation} {kind}")
        return validate


class CompiledSchema:
    """One schema, checked fast (:mod:`.fastcheck`) and explained by jsonschema (Draft 2020-12) only when
    the fast check says no. The compiled schemas are ref-free and trusted: no check_schema, no format
    checker."""

    def __init__(self, schema: dict[str, Any], name: str) -> None:
        self.name = name
        self.is_valid = compile_check(schema)
        self.iter_errors = SpecValidator(schema).iter_errors

    def __call__(self, instance: Any) -> list[ValidationError]:
        """The jsonschema errors of ``instance`` ([] if valid)."""
        if self.is_valid(instance):
            return []
        errors = list(self.iter_errors(instance))
        if not errors:
            raise AssertionError(
                f"fastcheck refused what jsonschema accepts ({self.name}): {instance!r:.300}"
            )
        return errors


@functools.cache
def load_spec(path: Path = SPEC_FILE) -> OpenApiSpec:
    """The spec, parsed and indexed once per process (every FakeDiscord shares it)."""
    with path.open(encoding="utf-8") as f:
        return OpenApiSpec(json.load(f))
