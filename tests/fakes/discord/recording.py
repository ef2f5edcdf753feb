"""The request log: every REST and CDN request the fake received, plus counters and surprises."""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordedFile:
    field: str  #: multipart field name, e.g. ``files[0]``
    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class RecordedRequest:
    method: str
    path: str  #: without the ``/api/v10`` prefix for REST requests
    query: dict[str, str]
    headers: dict[str, str]
    kind: str = "rest"  #: ``rest`` or ``cdn``
    json: Any = None  #: JSON body, or the decoded ``payload_json`` part of a multipart body
    files: list[RecordedFile] = field(default_factory=list)
    body_size: int = 0
    timestamp: float = field(default_factory=time.monotonic)  #: ``time.monotonic()`` on arrival
    route: str | None = None  #: matched route template, e.g. ``/channels/{channel_id}/messages``
    operation: str | None = None  #: the spec's operationId of that route, e.g. ``create_message``
    status: int = 0
    response: Any = None  #: the JSON the fake answered with (if any)
    rate_limited: bool = False
    injected: bool = False
    #: broken spec/documented rules in this request or the fake's answer (``conformance.Violation``)
    violations: list[Any] = field(default_factory=list)

    @property
    def error_code(self) -> int | None:
        """The Discord JSON error code of an error answer (None for successes)."""
        if self.status >= 400 and isinstance(self.response, dict):
            return self.response.get("code")
        return None

    def matches(self, method: str | None = None, path: str | None = None, route: str | None = None) -> bool:
        if method is not None and method.upper() != self.method:
            return False
        if path is not None and not fnmatch.fnmatchcase(self.path, path):
            return False
        return route is None or route == self.route

    def __repr__(self) -> str:
        return f"<{self.method} {self.path} -> {self.status}>"


@dataclass
class Unexpected:
    """Something the fake did not anticipate: an unimplemented route, a fake-side crash, a bad gateway op."""

    kind: str  #: ``unknown-route``, ``server-error``, ``gateway``
    detail: str
    request: RecordedRequest | None = None

    def __str__(self) -> str:
        return f"[{self.kind}] {self.detail}"


@dataclass
class Stats:
    requests: int = 0
    rate_limited: int = 0  #: every 429 answered (real bucket exhaustion and injected storms)
    injected: int = 0  #: answers produced by ``inject_errors``
    client_errors: int = 0  #: 4xx other than 429
    server_errors: int = 0  #: 5xx (injected or fake-side crashes)
    cdn_downloads: int = 0
    gateway_connections: int = 0
    identifies: int = 0
    resumes: int = 0
    dispatched: int = 0
