"""Every request and every response of the fake held to Discord's OpenAPI spec and documented rules.

A :class:`Violation` names the operation, the direction (request, query or response), the JSON path and
the rule. Request violations Discord would refuse are answered 400/50035 in Discord's words; unknown
request properties (which Discord silently ignores) are only recorded. Either way the violation lands in
``FakeDiscord.violations`` and the fixture fails the test at teardown, even if the bot swallowed the 400.
Response violations are bugs of the fake itself and fail the test the same way.

Known spec gaps are filtered through the one allow-list (:mod:`.spec_gaps`). Process-wide counters
(:data:`TOTALS`) feed the suite summary printed by ``tests/conftest.py``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from jsonschema.exceptions import ValidationError, best_match

from .errors import FieldErrors
from .openapi import OpenApiSpec, Operation, load_spec
from .spec_gaps import UNKNOWN_PROPERTY, known_gap, strip_known_properties

Path = tuple[str | int, ...]
_CACHE_LIMIT = 4096
_TYPE_WORDS = {
    "string": ("BASE_TYPE_STRING", "Could not interpret {value} as string."),
    "integer": ("NUMBER_TYPE_COERCE", "Value {value} is not int."),
    "number": ("NUMBER_TYPE_COERCE", "Value {value} is not a valid number."),
    "boolean": ("BASE_TYPE_BOOLEAN", "Must be either true or false."),
    "array": ("LIST_TYPE_CONVERT", "Only iterables may be used in a ListType."),
    "object": ("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType."),
}


class Issue(NamedTuple):
    """One broken rule found by a validator, before it is tied to an operation."""

    path: Path
    rule: str  #: ``maxLength: 80``, ``unknown property``, ``required``...
    message: str  #: what is wrong, for the test report
    code: str  #: Discord's error code for it (``BASE_TYPE_MAX_LENGTH``)
    discord_message: str  #: Discord's wording (``Must be 80 or fewer in length.``)


@dataclass(frozen=True)
class Violation:
    """One broken rule in one request or response."""

    operation: str  #: ``create_message (POST /channels/{channel_id}/messages)``
    direction: str  #: ``request``, ``query`` or ``response``
    path: Path
    rule: str  #: ``maxLength: 80``, ``unknown property``, ``docs: APPLICATION_COMMAND_TOO_LARGE``...
    message: str
    source: str = "spec"  #: ``spec`` (OpenAPI) or ``docs`` (developer documentation rules)
    refused: bool = True  #: False where Discord accepts the body anyway (unknown fields are ignored)
    status: int | None = None  #: the answer's status (responses)
    code: str = "INVALID_FORM_BODY"
    discord_message: str = ""

    @property
    def operation_id(self) -> str:
        return self.operation.split(" ", 1)[0]

    @property
    def json_path(self) -> str:
        out = "$"
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else f".{part}"
        return out

    @property
    def dotted_path(self) -> str:
        return ".".join(str(p) for p in self.path)

    def __str__(self) -> str:
        status = f" {self.status}" if self.status is not None else ""
        return f"{self.operation} {self.direction}{status} {self.json_path}: {self.rule} ({self.message})"


@dataclass
class Totals:
    """Counts over the whole process (one pytest run)."""

    requests_validated: int = 0
    responses_validated: int = 0
    queries_validated: int = 0
    violations: int = 0
    claimed: int = 0  #: violations taken by tests that broke rules on purpose
    seconds: float = 0.0
    operations_exercised: set[str] = field(default_factory=set)
    operations_in_fake: set[str] = field(default_factory=set)
    gap_hits: Counter[str] = field(default_factory=Counter)


TOTALS = Totals()
#: (operation, canonical JSON body) -> issues, for the whole process: the spec never changes
_BODY_ISSUES: dict[tuple[str, str], list[Issue]] = {}


# =========================================================================== explaining jsonschema errors
def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _rule(error: ValidationError) -> str:
    value = error.validator_value
    if error.validator in ("enum", "const", "type"):
        return f"{error.validator}: {_short(value, 80)}"
    if isinstance(value, bool | int | float | str):
        return f"{error.validator}: {value}"
    return str(error.validator)


def _discord_words(error: ValidationError) -> tuple[str, str]:
    """Discord's code and message for a failed keyword (reference "Error Messages" style)."""
    keyword, value = error.validator, error.validator_value
    schema = error.schema if isinstance(error.schema, dict) else {}
    if keyword in ("maxLength", "minLength"):
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        if high is not None and low:
            return "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length."
        if keyword == "maxLength":
            return "BASE_TYPE_MAX_LENGTH", f"Must be {value} or fewer in length."
        return "BASE_TYPE_MIN_LENGTH", f"Must be {value} or more in length."
    if keyword in ("maxItems", "maxProperties"):
        return "BASE_TYPE_MAX_LENGTH", f"Must be {value} or fewer in length."
    if keyword in ("minItems", "minProperties"):
        return "BASE_TYPE_MIN_LENGTH", f"Must be {value} or more in length."
    if keyword == "maximum":
        return "NUMBER_TYPE_MAX", f"int value should be less than or equal to {value}."
    if keyword == "minimum":
        return "NUMBER_TYPE_MIN", f"int value should be greater than or equal to {value}."
    if keyword in ("enum", "const"):
        values = value if keyword == "enum" else [value]
        return "BASE_TYPE_CHOICES", f"Value must be one of {{{', '.join(map(repr, values))}}}."
    if keyword == "type":
        first = value[0] if isinstance(value, list) else value
        code, text = _TYPE_WORDS.get(first, ("BASE_TYPE_BAD_TYPE", "Invalid type {value}."))
        return code, text.format(value=_short(error.instance, 40))
    if keyword == "pattern":
        return "STRING_TYPE_REGEX", "String value did not match validation regex."
    if keyword == "uniqueItems":
        return "LIST_ITEM_VALUE_DUPLICATE", "List items must be unique."
    return "INVALID_FORM_BODY", "Invalid Form Body"


def _branch(error: ValidationError) -> int:
    return int(error.relative_schema_path[0])


def _depth(error: ValidationError) -> int:
    deepest = len(error.relative_path)
    for sub in error.context or ():
        deepest = max(deepest, len(error.relative_path) + _depth(sub))
    return deepest


def _ruled_out(errors: list[ValidationError]) -> bool:
    """A union branch whose shape does not fit at all (another JSON type, or another constant). Unions
    told apart by a ``type`` field never get here: ``openapi`` dispatches them on it."""
    return any(not e.relative_path and e.validator in ("type", "const", "enum") for e in errors)


def explain(error: ValidationError) -> list[Issue]:
    """The issues behind one jsonschema error. Unions descend into the branch the instance's ``type``
    selects, so the report names the real field and rule instead of "not valid under any of"."""
    path: Path = tuple(error.absolute_path)
    if (
        error.validator in ("additionalProperties", "unevaluatedProperties")
        and error.validator_value is False
    ):
        schema = error.schema if isinstance(error.schema, dict) else {}
        known = set(schema.get("properties", {}))
        for part in schema.get("allOf", []):
            known |= set(part.get("properties", {}))
        extras = (
            sorted(k for k in error.instance if k not in known) if isinstance(error.instance, dict) else []
        )
        return [
            Issue(
                (*path, key),
                UNKNOWN_PROPERTY,
                f"{key!r} is not a property of this object in the spec",
                "UNKNOWN_FIELD",
                "Unknown field.",
            )
            for key in extras
        ]
    if error.validator == "required":
        missing = next(
            (
                n
                for n in error.validator_value
                if isinstance(error.instance, dict) and n not in error.instance
            ),
            str(error.validator_value),
        )
        return [
            Issue(
                (*path, missing),
                "required",
                f"{missing!r} is required",
                "BASE_TYPE_REQUIRED",
                "This field is required",
            )
        ]
    if error.validator in ("anyOf", "oneOf") and error.context:
        return _explain_union(error, path)
    code, words = _discord_words(error)
    message = error.message if len(error.message) < 200 else error.message[:197] + "..."
    return [Issue(path, _rule(error), message, code, words)]


def _explain_union(error: ValidationError, path: Path) -> list[Issue]:
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(_branch(sub), []).append(sub)
    plausible = [errs for errs in branches.values() if not _ruled_out(errs)]
    if plausible:
        # the branch the instance got furthest into (deepest error), then the one with the fewest errors
        chosen = max(plausible, key=lambda errs: (max(_depth(e) for e in errs), -len(errs)))
        return [issue for sub in chosen for issue in explain(sub)]
    closest = best_match(error.context)
    return [
        Issue(
            path,
            "anyOf",
            f"{_short(error.instance)} matches none of the allowed shapes",
            "UNION_TYPE_CHOICES",
            "Value is not one of the allowed types.",
        ),
        *(explain(closest) if closest is not None else []),
    ]


# =========================================================================== the checks
class Conformance:
    """The checks for one FakeDiscord: validates, filters through the allow-list, counts."""

    def __init__(self, spec: OpenApiSpec | None = None) -> None:
        self.spec = spec or load_spec()
        self.violations: list[Violation] = []
        self.requests_validated = 0
        self.responses_validated = 0

    def operation(self, method: str, template: str) -> Operation | None:
        operation = self.spec.find(method, template)
        if operation is not None:
            TOTALS.operations_in_fake.add(operation.operation_id)
        return operation

    # ------------------------------------------------------------------ requests
    def check_request(
        self,
        operation: Operation,
        *,
        query: Mapping[str, str],
        body: Any,
        has_body: bool,
        file_fields: Iterable[str] = (),
    ) -> list[Violation]:
        """Violations of one request (query, body, multipart file names), allow-listed ones removed."""
        started = time.perf_counter()
        found = self._check_query(operation, query)
        if operation.request is None:
            if has_body:
                found.append(
                    self._violation(
                        operation, "request", _simple((), "requestBody", "this operation takes no body")
                    )
                )
        elif body is None:
            if operation.body_required:
                found.append(
                    self._violation(operation, "request", _simple((), "required", "a JSON body is required"))
                )
        else:
            body, gaps = strip_known_properties(operation.operation_id, body)
            TOTALS.gap_hits.update(gaps)
            found += [
                self._violation(operation, "request", issue) for issue in self._body_issues(operation, body)
            ]
        for name in file_fields:
            if name not in operation.multipart_fields:
                allowed = sorted(operation.multipart_fields) or "none"
                issue = _simple((name,), "multipart", f"file part {name!r} is not one of {allowed}")
                found.append(self._violation(operation, "request", issue))
        self.requests_validated += 1
        TOTALS.requests_validated += 1
        TOTALS.operations_exercised.add(operation.operation_id)
        TOTALS.seconds += time.perf_counter() - started
        return self._keep(found)

    def _body_issues(self, operation: Operation, body: Any) -> list[Issue]:
        # discord.py sends the same bodies again and again (the command sync of every test): cache them
        key = (operation.operation_id, json.dumps(body, sort_keys=True, separators=(",", ":")))
        issues = _BODY_ISSUES.get(key)
        if issues is None:
            validate = self.spec.request_validator(operation)
            issues = [issue for error in validate(body) for issue in explain(error)] if validate else []
            if len(_BODY_ISSUES) >= _CACHE_LIMIT:
                _BODY_ISSUES.clear()
            _BODY_ISSUES[key] = issues
        return issues

    def _check_query(self, operation: Operation, query: Mapping[str, str]) -> list[Violation]:
        found = []
        for name, raw in query.items():
            validate = self.spec.query_validator(operation, name)
            if validate is None:
                issue = Issue(
                    (name,), UNKNOWN_PROPERTY, f"{name!r} is not a query parameter", "UNKNOWN_FIELD", ""
                )
                found.append(self._violation(operation, "query", issue))
                continue
            TOTALS.queries_validated += 1
            for error in validate(_query_value(raw, operation.query[name])):
                found += [
                    self._violation(operation, "query", i._replace(path=(name,))) for i in explain(error)
                ]
        return found

    def docs_violations(
        self, operation: Operation | None, label: str, errors: FieldErrors
    ) -> list[Violation]:
        """The developer docs' rules a validator of the fake enforced (limits.py), as violations."""
        name = str(operation) if operation is not None else label
        return [
            Violation(
                name, "request", _split(path), f"docs: {code}", message, "docs", True, None, code, message
            )
            for path, code, message in errors.flat
        ]

    # ------------------------------------------------------------------ responses
    def check_response(self, operation: Operation, status: int, body: Any) -> list[Violation]:
        """Violations of one answer of the fake (5xx answers are outside the spec and skipped); recorded."""
        if status >= 500:
            return []
        started = time.perf_counter()
        found: list[Violation] = []
        key = operation.response_key(status)
        validate = self.spec.response_validator(operation, key) if key is not None else None
        if key is None:
            found.append(
                self._violation(
                    operation, "response", _simple((), "status", f"the spec has no {status} answer"), status
                )
            )
        elif validate is None:
            if body is not None:
                issue = _simple(
                    (), "no content", f"the spec's {status} answer has no body; the fake sent one"
                )
                found.append(self._violation(operation, "response", issue, status))
        elif body is None:
            issue = _simple((), "content", f"the spec's {status} answer is JSON; the fake sent no body")
            found.append(self._violation(operation, "response", issue, status))
        else:
            for error in validate(body):
                found += [self._violation(operation, "response", issue, status) for issue in explain(error)]
        self.responses_validated += 1
        TOTALS.responses_validated += 1
        TOTALS.seconds += time.perf_counter() - started
        return self.record(self._keep(found))

    # ------------------------------------------------------------------ bookkeeping
    def claim(self) -> list[Violation]:
        """Returns the violations so far and forgets them."""
        taken, self.violations = self.violations, []
        TOTALS.claimed += len(taken)
        return taken

    def record(self, violations: list[Violation]) -> list[Violation]:
        self.violations.extend(violations)
        TOTALS.violations += len(violations)
        return violations

    def _violation(
        self, operation: Operation, direction: str, issue: Issue, status: int | None = None
    ) -> Violation:
        return Violation(
            str(operation),
            direction,
            issue.path,
            issue.rule,
            issue.message,
            refused=issue.rule != UNKNOWN_PROPERTY,
            status=status,
            code=issue.code,
            discord_message=issue.discord_message,
        )

    def _keep(self, violations: list[Violation]) -> list[Violation]:
        kept = []
        for v in violations:
            gap = known_gap(v.operation_id, v.direction, v.path, v.rule, v.status)
            if gap is None:
                kept.append(v)
            else:
                TOTALS.gap_hits[gap.name] += 1
        return kept


def _simple(path: Path, rule: str, message: str) -> Issue:
    return Issue(path, rule, message, "INVALID_FORM_BODY", message)


def _split(dotted: str) -> Path:
    return tuple(int(p) if p.isdigit() else p for p in dotted.split(".") if p != "")


def _query_value(raw: str, schema: dict[str, Any]) -> Any:
    """A query string value as the JSON type its schema names (``?with_response=1`` is a boolean)."""
    types = schema.get("type")
    names = set(types) if isinstance(types, list) else {types}
    if "boolean" in names and raw.lower() in ("true", "false", "1", "0"):
        return raw.lower() in ("true", "1")
    if "integer" in names and raw.lstrip("-").isdigit():
        return int(raw)
    return raw


def form_errors(violations: Iterable[Violation]) -> FieldErrors:
    """Discord's nested ``errors`` object for the refused violations of one request."""
    errors = FieldErrors()
    for v in violations:
        if v.refused:
            errors.add(v.path, v.code, v.discord_message or v.message)
    return errors
