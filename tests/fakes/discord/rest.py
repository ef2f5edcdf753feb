"""The REST v10 request pipeline: parse, record, authenticate, inject faults, rate-limit, route.

Route handlers receive a :class:`RestRequest` and return a :class:`Reply`, a JSON-able object
(200) or None (204), or raise :class:`ApiError`. Requests to routes nobody registered are answered
like Discord (404, code 0) and listed in ``FakeDiscord.unexpected``; so are crashes of the fake
itself, answered with 503 (discord.py raises at once on 503 instead of retrying with sleeps).
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .conformance import Conformance, form_errors
from .errors import (
    CANNOT_SEND_EMPTY_MESSAGE,
    INVALID_FORM_BODY,
    INVALID_JSON,
    UNAUTHORIZED,
    ApiError,
    FieldErrors,
)
from .faults import FaultInjector
from .holds import Holds
from .openapi import Operation
from .ratelimit import RateLimiter
from .recording import RecordedFile, RecordedRequest, Stats, Unexpected
from .reply import Reply

API_PREFIX = "/api/v10"


@dataclass
class RestRequest:
    method: str
    path: str
    route: str
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    files: list[RecordedFile]
    received_at: float
    record: RecordedRequest

    def body(self) -> dict[str, Any]:
        """The JSON object body (``{}`` if empty); 400 if it is not an object."""
        if self.json is None:
            return {}
        if not isinstance(self.json, dict):
            raise ApiError(400, INVALID_FORM_BODY, "Invalid Form Body: expected a JSON object")
        return self.json

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("1", "true")


Handler = Callable[[RestRequest], Awaitable[Any]]
BodyRules = Callable[[Any], FieldErrors]


@dataclass
class _Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    auth: bool
    rules: BodyRules | None = None  #: documented rules the spec cannot express, on the JSON body
    operation: Operation | None = None  #: the spec's operation (set by RestApi)


def _param_pattern(match: re.Match[str]) -> str:
    """``{..._id}`` parameters are snowflakes (digits), so literal sub-routes are not mistaken for ids."""
    name = match.group(1)
    return f"(?P<{name}>[0-9]+)" if name.endswith("_id") else f"(?P<{name}>[^/]+)"


class Router:
    def __init__(self) -> None:
        self._routes: list[_Route] = []

    def add(
        self,
        method: str,
        template: str,
        handler: Handler,
        *,
        auth: bool = True,
        rules: BodyRules | None = None,
    ) -> None:
        """``rules`` checks the JSON body against documented rules before the handler runs; its errors
        are answered together with the spec's, in one 400 (like Discord reports every field at once)."""
        regex = re.sub(r"\\\{(\w+)\\\}", _param_pattern, re.escape(template))
        self._routes.append(_Route(method, template, re.compile(regex + "$"), handler, auth, rules))

    def match(self, method: str, path: str) -> tuple[_Route, dict[str, str]] | None:
        for route in self._routes:
            if route.method == method:
                m = route.pattern.match(path)
                if m:
                    return route, m.groupdict()
        return None

    @property
    def routes(self) -> list[_Route]:
        return list(self._routes)

    @property
    def templates(self) -> list[str]:
        return [f"{r.method} {r.template}" for r in self._routes]


async def read_body(request: web.Request) -> tuple[Any, list[RecordedFile], int]:
    """Returns (json or decoded payload_json, files, size in bytes)."""
    ctype = request.headers.get("Content-Type", "")
    files: list[RecordedFile] = []
    body: Any = None
    size = 0
    if ctype.startswith("multipart/form-data"):
        reader = await request.multipart()
        async for part in reader:
            data = await part.read(decode=False)  # type: ignore[union-attr]
            size += len(data)
            name = part.name or ""  # type: ignore[union-attr]
            if name == "payload_json":
                body = _loads(data)
            else:
                files.append(
                    RecordedFile(name, part.filename, part.headers.get("Content-Type"), bytes(data))  # type: ignore[union-attr]
                )
    elif request.can_read_body:
        raw = await request.read()
        size = len(raw)
        body = _loads(raw) if raw else None
    return body, files, request.content_length or size


def _loads(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, INVALID_JSON, "The request body contains invalid JSON.") from None


class RestApi:
    def __init__(
        self,
        *,
        router: Router,
        log: list[RecordedRequest],
        stats: Stats,
        unexpected: list[Unexpected],
        faults: FaultInjector,
        holds: Holds,
        limiter: RateLimiter,
        max_request_size: Callable[[], int],
        token_ok: Callable[[str | None], bool],
        conformance: Conformance,
    ) -> None:
        self.router = router
        self.conformance = conformance
        self._operations: dict[str, Operation] = {}
        for route in router.routes:
            route.operation = conformance.operation(route.method, route.template)
            if route.operation is not None:
                self._operations[route.operation.operation_id] = route.operation
        self.log = log
        self.stats = stats
        self.unexpected = unexpected
        self.faults = faults
        self.holds = holds
        self.limiter = limiter
        self._max_request_size = max_request_size
        self._token_ok = token_ok

    async def handle(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        record = RecordedRequest(request.method, path, dict(request.query), dict(request.headers))
        self.log.append(record)
        self.stats.requests += 1
        try:
            reply = await self._process(request, record)
        except Exception as exc:
            self.unexpected.append(
                Unexpected(
                    "server-error",
                    f"{request.method} {path} crashed the fake: {exc!r}\n{traceback.format_exc()}",
                    record,
                )
            )
            reply = Reply(503, {"message": "fake discord crashed (see fake.unexpected)", "code": 0})
        record.status = reply.status
        record.response = reply.body
        operation = self._operations.get(record.operation or "")
        if operation is not None:
            try:
                record.violations += self.conformance.check_response(operation, reply.status, reply.body)
            except Exception as exc:  # a bug of the checks themselves: fail the test, keep answering
                self.unexpected.append(
                    Unexpected("server-error", f"checking the answer of {operation} crashed: {exc!r}", record)
                )
        if reply.status == 429:
            record.rate_limited = True
            self.stats.rate_limited += 1
        elif reply.status >= 500:
            self.stats.server_errors += 1
        elif reply.status >= 400:
            self.stats.client_errors += 1
        return reply.to_response()

    async def _process(self, request: web.Request, record: RecordedRequest) -> Reply:
        received_at = time.monotonic()
        try:
            body, files, size = await read_body(request)
        except ApiError as e:
            return Reply(e.status, e.body())
        record.json, record.files, record.body_size = body, files, size
        matched = self.router.match(request.method, record.path)
        if matched is None:
            self.unexpected.append(
                Unexpected(
                    "unknown-route", f"{request.method} {record.path} is not implemented by the fake", record
                )
            )
            return Reply(404, {"message": "404: Not Found", "code": 0})
        route, params = matched
        record.route = route.template
        record.operation = route.operation.operation_id if route.operation is not None else None
        if size > self._max_request_size():
            return _error(ApiError.too_large())
        if route.auth and not self._authorized(request.headers.get("Authorization")):
            return Reply(401, {"message": "401: Unauthorized", "code": UNAUTHORIZED})
        if route.operation is not None:
            refused = self._check_request(route, route.operation, record, body, files)
            if refused is not None:
                return refused
        injection = self.faults.take(request.method, record.path)
        if injection is not None:
            injection.hits.append(record)
            record.injected = True
            self.stats.injected += 1
            return injection.reply()
        hold = self.holds.take(request.method, record.path, record)
        if hold is not None:
            await hold.wait_released()
        try:
            return await self._apply(request, record, route, params, body, files, received_at)
        finally:
            if hold is not None:
                hold.handled.set()

    async def _apply(
        self,
        request: web.Request,
        record: RecordedRequest,
        route: _Route,
        params: dict[str, str],
        body: Any,
        files: list[RecordedFile],
        received_at: float,
    ) -> Reply:
        decision = self.limiter.check(request.method, route.template, params)
        if decision.blocked and decision.reply is not None:
            return decision.reply
        rest_request = RestRequest(
            request.method,
            record.path,
            route.template,
            params,
            record.query,
            body,
            files,
            received_at,
            record,
        )
        try:
            result = await route.handler(rest_request)
        except ApiError as e:
            self._record_rule_errors(route, record, e)
            reply = _error(e)
        else:
            reply = result if isinstance(result, Reply) else Reply(204 if result is None else 200, result)
        reply.headers.update(decision.headers)
        return reply

    def _check_request(
        self,
        route: _Route,
        operation: Operation,
        record: RecordedRequest,
        body: Any,
        files: list[RecordedFile],
    ) -> Reply | None:
        """Validates query and body against the spec and the route's documented rules; answers 400/50035
        (every field at once) for what Discord refuses."""
        violations = self.conformance.check_request(
            operation,
            query=record.query,
            body=body,
            has_body=body is not None or bool(files),
            file_fields=[f.field for f in files],
        )
        if route.rules is not None and body is not None:
            try:
                rule_errors = route.rules(body)
            except (AttributeError, TypeError, KeyError):
                rule_errors = FieldErrors()  # a body of the wrong shape: the spec already said so
            label = f"{route.method} {route.template}"
            documented = {v.path: v for v in self.conformance.docs_violations(operation, label, rule_errors)}
            # a field both flag is reported once: the spec's rule, in the documented rule's (Discord's) words
            violations = [
                dataclasses.replace(v, code=twin.code, discord_message=twin.discord_message)
                if (twin := documented.pop(v.path, None)) is not None
                else v
                for v in violations
            ] + list(documented.values())
        if not violations:
            return None
        record.violations += self.conformance.record(violations)
        refused = [v for v in violations if v.refused]
        if not refused:
            return None  # unknown fields: Discord ignores them, the test still fails at teardown
        return _error(ApiError.invalid_form_body(form_errors(refused)))

    def _record_rule_errors(self, route: _Route, record: RecordedRequest, error: ApiError) -> None:
        """A handler refused the body by a documented rule (limits.py): that is a violation too."""
        if error.code not in (INVALID_FORM_BODY, CANNOT_SEND_EMPTY_MESSAGE):
            return
        errors = error.field_errors
        if errors is None:
            errors = FieldErrors()
            errors.add((), f"CODE_{error.code}", error.message)
        violations = self.conformance.docs_violations(
            route.operation, f"{route.method} {route.template}", errors
        )
        record.violations += self.conformance.record(violations)

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Bot "):
            return False
        return self._token_ok(header[len("Bot ") :])


def _error(e: ApiError) -> Reply:
    return Reply(e.status, e.body(), dict(e.headers))
