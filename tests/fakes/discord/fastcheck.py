"""A fast yes/no check of an instance against one compiled (ref-free) spec schema.

jsonschema costs about 12 µs per schema node it descends into, which made checking one command sync
answer take 10-20 ms. Nearly every instance is valid, so each schema is also compiled into plain closures
that only answer "valid?"; jsonschema runs only when they say no, and explains the failure. A test checks
that the two agree on real traffic and on broken variants of it (tests/integration/fake_discord/
test_conformance.py), and a keyword this module does not know fails the compilation instead of passing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]
#: our keyword for a union dispatched on one field (``openapi._Compiler.discriminate``)
DISCRIMINATED = "x-discriminated"


def _is_number(x: Any) -> bool:
    return type(x) is int or type(x) is float


def _is_integer(x: Any) -> bool:
    return type(x) is int or (type(x) is float and x.is_integer())


_TYPES: dict[str, Check] = {
    "null": lambda x: x is None,
    "boolean": lambda x: type(x) is bool,
    "integer": _is_integer,
    "number": _is_number,
    "string": lambda x: type(x) is str,
    "array": lambda x: type(x) is list,
    "object": lambda x: type(x) is dict,
}


def _tag(value: Any) -> tuple[str, Any] | None:
    """A hashable identity that keeps JSON's distinctions (``true`` is not ``1``); None if not scalar."""
    if value is None or type(value) is bool or type(value) is str:
        return (type(value).__name__, value)
    if _is_number(value):
        return ("number", value)
    return None


def _always(_instance: Any) -> bool:
    return True


def _never(_instance: Any) -> bool:
    return False


class _Deferred:
    """Stands for a schema being compiled (the spec's schemas are recursive)."""

    __slots__ = ("check",)

    def __init__(self) -> None:
        self.check: Check = _always

    def __call__(self, instance: Any) -> bool:
        return self.check(instance)


def _every(checks: list[Check]) -> Check:
    def check(x: Any) -> bool:
        for one in checks:  # noqa: SIM110 (a plain loop: all() over a generator costs more here)
            if not one(x):
                return False
        return True

    return check


def compile_check(schema: Any) -> Check:
    """``schema`` (ref-free, as ``openapi`` compiles it) as a function instance -> valid?"""
    return _Compiler().compile(schema)


class _Compiler:
    def __init__(self) -> None:
        self.memo: dict[int, Check] = {}
        self.keywords: dict[str, Callable[[Any, dict[str, Any]], Check | None]] = {
            "type": self.type_,
            "enum": lambda value, _schema: self.one_of_values(value),
            "const": lambda value, _schema: self.one_of_values([value]),
            "properties": self.properties,
            "required": self.required,
            "additionalProperties": self.additional,
            "unevaluatedProperties": self.unevaluated,
            "items": self.items,
            "maxLength": lambda n, _s: lambda x: type(x) is not str or len(x) <= n,
            "minLength": lambda n, _s: lambda x: type(x) is not str or len(x) >= n,
            "maxItems": lambda n, _s: lambda x: type(x) is not list or len(x) <= n,
            "minItems": lambda n, _s: lambda x: type(x) is not list or len(x) >= n,
            "maxProperties": lambda n, _s: lambda x: type(x) is not dict or len(x) <= n,
            "minProperties": lambda n, _s: lambda x: type(x) is not dict or len(x) >= n,
            "maximum": lambda n, _s: lambda x: not _is_number(x) or x <= n,
            "minimum": lambda n, _s: lambda x: not _is_number(x) or x >= n,
            "pattern": self.pattern,
            "uniqueItems": self.unique,
            "anyOf": self.any_of,
            "allOf": self.all_of,
            DISCRIMINATED: self.discriminated,
        }

    def compile(self, schema: Any) -> Check:
        if schema is True or schema is False:
            return _always if schema else _never
        if not isinstance(schema, dict):
            raise TypeError(f"not a schema: {schema!r}")
        known = self.memo.get(id(schema))
        if known is not None:
            return known
        deferred = _Deferred()
        self.memo[id(schema)] = deferred
        checks = []
        for name, value in schema.items():
            build = self.keywords.get(name)
            if build is None:
                raise ValueError(f"keyword {name!r} is not supported by fastcheck (extend it, with a test)")
            check = build(value, schema)
            if check is not None:
                checks.append(check)
        if len(checks) == 1:
            deferred.check = checks[0]
        elif checks:
            deferred.check = _every(checks)
        return deferred

    # ------------------------------------------------------------------ keywords
    def type_(self, value: Any, _schema: dict[str, Any]) -> Check:
        preds = [_TYPES[n] for n in (value if isinstance(value, list) else [value])]
        return preds[0] if len(preds) == 1 else lambda x: any(p(x) for p in preds)

    def one_of_values(self, values: list[Any]) -> Check:
        tags = {_tag(v) for v in values}
        others = [v for v in values if _tag(v) is None]

        def check(x: Any) -> bool:
            tag = _tag(x)
            return tag in tags if tag is not None else any(x == v for v in others)

        return check

    def properties(self, value: dict[str, Any], _schema: dict[str, Any]) -> Check:
        props = {key: self.compile(sub) for key, sub in value.items()}

        def check(x: Any) -> bool:
            if type(x) is not dict:
                return True
            for key, item in x.items():
                sub = props.get(key)
                if sub is not None and not sub(item):
                    return False
            return True

        return check

    def required(self, value: list[str], _schema: dict[str, Any]) -> Check:
        names = list(value)
        return lambda x: type(x) is not dict or all(n in x for n in names)

    def additional(self, value: Any, schema: dict[str, Any]) -> Check:
        known = set(schema.get("properties", {}))
        if value is False:
            return lambda x: type(x) is not dict or all(k in known for k in x)
        extra = self.compile(value)
        return lambda x: type(x) is not dict or all(extra(v) for k, v in x.items() if k not in known)

    def unevaluated(self, value: Any, schema: dict[str, Any]) -> Check:
        """Only ``false`` beside ``allOf`` (the spec's error objects): the parts' properties are allowed."""
        if value is not False or {"anyOf", DISCRIMINATED} & set(schema):
            raise ValueError("fastcheck supports unevaluatedProperties only as false beside allOf")
        known = set(schema.get("properties", {}))
        for part in schema.get("allOf", []):
            known |= set(part.get("properties", {}))
        return lambda x: type(x) is not dict or all(k in known for k in x)

    def items(self, value: Any, _schema: dict[str, Any]) -> Check:
        item = self.compile(value)

        def check(x: Any) -> bool:
            if type(x) is list:
                for element in x:
                    if not item(element):
                        return False
            return True

        return check

    def pattern(self, value: str, _schema: dict[str, Any]) -> Check:
        regex = re.compile(value)
        return lambda x: type(x) is not str or regex.search(x) is not None

    def unique(self, value: bool, _schema: dict[str, Any]) -> Check | None:
        if not value:
            return None
        return lambda x: type(x) is not list or len({json.dumps(i, sort_keys=True) for i in x}) == len(x)

    def any_of(self, value: list[Any], _schema: dict[str, Any]) -> Check:
        branches = [self.compile(sub) for sub in value]
        return lambda x: any(b(x) for b in branches)

    def all_of(self, value: list[Any], _schema: dict[str, Any]) -> Check:
        return _every([self.compile(sub) for sub in value])

    def discriminated(self, value: dict[str, Any], _schema: dict[str, Any]) -> Check:
        key = value["property"]
        mapping = {k: self.compile(sub) for k, sub in value["mapping"].items()}

        def check(x: Any) -> bool:
            if type(x) is not dict:
                return False
            tag = x.get(key)
            if type(tag) is not int and type(tag) is not str:
                return False
            branch = mapping.get(tag)
            return branch is not None and branch(x)

        return check
