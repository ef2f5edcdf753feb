"""Injected failures: 5xx answers and 429 storms on routes matching a pattern."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from .ratelimit import too_many_requests
from .recording import RecordedRequest
from .reply import Reply

_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Injection:
    """One armed fault. ``pattern`` is ``"METHOD /path-glob"`` or ``"/path-glob"`` (any method), matched
    with fnmatch against the path without ``/api/v10`` (``*`` also matches ``/``)."""

    pattern: str
    status: int
    remaining: int
    code: int = 0
    message: str | None = None
    retry_after: float = 0.05
    is_global: bool = False
    hits: list[RecordedRequest] = field(default_factory=list)

    def matches(self, method: str, path: str) -> bool:
        want_method, sep, glob = self.pattern.partition(" ")
        if not sep:
            want_method, glob = "", self.pattern
        if want_method and want_method.upper() != method:
            return False
        return fnmatch.fnmatchcase(path, glob)

    def reply(self) -> Reply:
        if self.status == 429:
            return too_many_requests(self.retry_after, is_global=self.is_global, scope="shared")
        message = self.message or f"{self.status}: {_REASONS.get(self.status, 'Injected error')}"
        body: dict[str, Any] = {"message": message, "code": self.code}
        return Reply(self.status, body)


class FaultInjector:
    def __init__(self) -> None:
        self.injections: list[Injection] = []

    def add(self, injection: Injection) -> Injection:
        self.injections.append(injection)
        return injection

    def take(self, method: str, path: str) -> Injection | None:
        for injection in self.injections:
            if injection.remaining > 0 and injection.matches(method, path):
                injection.remaining -= 1
                return injection
        return None

    def clear(self) -> None:
        self.injections.clear()
