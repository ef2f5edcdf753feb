"""ComfyUI's HTTP API over a shared aiohttp session (the client never owns the session).

Idempotent calls are retried with jittered back-off; ``POST /prompt`` never is. Instead, since we
choose the prompt_id ourselves, a submit whose answer was lost is looked up in ``/queue`` and
``/history`` before anyone decides to send it again.

Every answer is untrusted: a body larger than ``MAX_RESPONSE_BYTES`` is refused before it is read
whole, and JSON bodies are decoded strictly (no NaN, no Infinity, no stack-deep nesting).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Final, TypeVar

import aiohttp

from bot.comfy.endpoint import Endpoint
from bot.comfy.jsonshape import as_mapping
from bot.comfy.rejections import rejection_from_body
from bot.comfy.retry import RetryPolicy
from bot.errors import (
    BackendUnavailable,
    ComfyError,
    NodeProblem,
    OriginForbidden,
    OutputTooLarge,
    UnexpectedResponse,
    UploadTooLarge,
)
from bot.strictjson import StrictJSONError, strict_loads

log = logging.getLogger(__name__)
T = TypeVar("T")

UPLOAD_SUBFOLDER = "comfycord"
_RETRYABLE_STATUS = frozenset({502, 503, 504})
_STREAM_ABOVE = 512 * 1024
_READ_CHUNK = 256 * 1024

MAX_RESPONSE_BYTES: Final = 64 * 1024 * 1024
"""The largest body read from a ComfyUI server (the same cap as a websocket frame): a real
``/object_info`` with many custom nodes is a few MiB, an output image through ``/view`` tens at most."""


class _BodyTooLarge(Exception):
    def __init__(self, size: str, limit: int) -> None:
        super().__init__(size)
        self.size = size
        self.limit = limit


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """Where ComfyUI stored an upload; ``ref`` is what a LoadImage input takes."""

    name: str
    subfolder: str
    type: str

    @property
    def ref(self) -> str:
        return f"{self.subfolder}/{self.name}" if self.subfolder else self.name


@dataclass(frozen=True, slots=True)
class QueuedPrompt:
    prompt_id: str
    number: float
    node_errors: tuple[NodeProblem, ...] = ()


@dataclass(frozen=True, slots=True)
class QueueItem:
    number: float
    prompt_id: str
    client_id: str | None


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """``pending`` is sorted into execution order (the server returns its raw heap)."""

    running: tuple[QueueItem, ...]
    pending: tuple[QueueItem, ...]

    def contains(self, prompt_id: str) -> bool:
        return any(item.prompt_id == prompt_id for item in (*self.running, *self.pending))

    def is_running(self, prompt_id: str) -> bool:
        return any(item.prompt_id == prompt_id for item in self.running)


@dataclass(frozen=True, slots=True)
class OutputFile:
    """A file an output node wrote, fetchable through ``/view``: listed under ``key`` of the node's
    output (``images`` for stills, animations and ComfyUI's own videos, ``gifs`` for VideoHelperSuite,
    ``audio``...); ``animated`` when the node flagged its files so (``"animated": [true]``)."""

    node_id: str
    filename: str
    subfolder: str
    type: str
    key: str = "images"
    animated: bool = False


@dataclass(frozen=True, slots=True)
class OutputText:
    """One text an output node showed (PreviewAny's ``text``, custom nodes' ``text``/``string`` lists)."""

    node_id: str
    text: str
    key: str = "text"


TEXT_KEYS: Final = frozenset({"text", "texts", "string", "strings"})
"""Keys of a node's output whose lists hold texts to show, not files."""


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    prompt_id: str
    status: str  # "success" | "error"
    completed: bool
    outputs: tuple[OutputFile, ...]
    messages: tuple[tuple[str, Mapping[str, Any]], ...] = field(default=())
    texts: tuple[OutputText, ...] = field(default=())

    def message(self, kind: str) -> Mapping[str, Any] | None:
        return next((data for event, data in self.messages if event == kind), None)


def content_name(data: bytes, filename: str) -> str:
    """A content-hash file name: same bytes, same name, so a re-upload is a no-op on the server."""
    suffix = PurePosixPath(filename).suffix.lower()
    if not suffix or len(suffix) > 6 or not suffix[1:].isalnum():
        suffix = ".png"
    return hashlib.sha256(data).hexdigest()[:32] + suffix


def predicted_ref(data: bytes, filename: str) -> str:
    """The reference ``upload_image`` gets for these bytes with the default subfolder, without asking the
    server: names are content hashes, and the server reuses a name whose bytes match (recording 10)."""
    return UploadedFile(content_name(data, filename), UPLOAD_SUBFOLDER, "input").ref


def _queue_items(raw: object) -> list[QueueItem]:
    items: list[QueueItem] = []
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, list) or len(entry) < 2:
            continue
        extra = entry[3] if len(entry) > 3 and isinstance(entry[3], Mapping) else {}
        number = entry[0] if isinstance(entry[0], (int, float)) else 0.0
        items.append(QueueItem(float(number), str(entry[1]), extra.get("client_id")))
    return items


def node_outputs(node_id: str, ui: object) -> tuple[list[OutputFile], list[OutputText]]:
    """The files and texts in one node's output (an ``executed`` message's ``output``, or its entry in
    ``/history``): any list of ``{filename, subfolder, type}`` under any key, and the strings of the
    text keys. What a file is gets decided later, by its bytes."""
    files: list[OutputFile] = []
    texts: list[OutputText] = []
    fields = as_mapping(ui)
    flags = fields.get("animated")
    animated = isinstance(flags, list) and any(flag is True for flag in flags)
    for key, value in fields.items():
        if not isinstance(value, list):
            continue
        if key in TEXT_KEYS:
            texts.extend(OutputText(node_id, item, key) for item in value if isinstance(item, str))
            continue
        files.extend(
            OutputFile(
                node_id,
                item["filename"],
                str(item.get("subfolder") or ""),
                str(item.get("type") or "output"),
                str(key),
                animated,
            )
            for item in value
            if isinstance(item, Mapping) and isinstance(item.get("filename"), str) and item["filename"]
        )
    return files, texts


def _history_entry(prompt_id: str, entry: Mapping[str, Any]) -> HistoryEntry:
    status = as_mapping(entry.get("status"))
    outputs: list[OutputFile] = []
    texts: list[OutputText] = []
    for node_id, ui in as_mapping(entry.get("outputs")).items():
        files, shown = node_outputs(str(node_id), ui)
        outputs.extend(files)
        texts.extend(shown)
    messages = tuple(
        (str(m[0]), m[1])
        for m in status.get("messages") or []
        if isinstance(m, list) and len(m) == 2 and isinstance(m[1], Mapping)
    )
    return HistoryEntry(
        prompt_id=prompt_id,
        status=str(status.get("status_str") or "unknown"),
        completed=bool(status.get("completed")),
        outputs=tuple(outputs),
        messages=messages,
        texts=tuple(texts),
    )


class ComfyHttp:
    """Typed calls to one backend's HTTP API."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        endpoint: Endpoint,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        max_body_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self._session = session
        self.endpoint = endpoint
        self._max_body = max_body_bytes
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 10.0))
        self._retry = retry or RetryPolicy()
        self._headers = endpoint.auth.headers()
        self._server = endpoint.display_name  # what errors call this backend in front of members

    # --- plumbing ------------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: object = None,
        data: aiohttp.FormData | None = None,
        params: Mapping[str, str] | None = None,
        expect: str = "json",
        max_body: int | None = None,
    ) -> Any:
        """One request; maps every failure onto the ComfyError hierarchy. ``max_body`` overrides the
        client's body limit for this request."""
        url = self.endpoint.http_url(path)
        headers = self._headers
        payload: aiohttp.FormData | bytes | io.BytesIO | None = data
        if json_body is not None:
            encoded = json.dumps(json_body).encode()
            # aiohttp warns that large raw bodies may block the loop; a stream does not.
            payload = io.BytesIO(encoded) if len(encoded) > _STREAM_ABOVE else encoded
            headers = {**headers, "Content-Type": "application/json"}
        try:
            async with self._session.request(
                method,
                url,
                data=payload,
                params=params,
                headers=headers,
                timeout=self._timeout,
            ) as response:
                status = response.status
                body = await self._read_body(response, max_body or self._max_body)
        except _BodyTooLarge as exc:
            if path == "/view":
                name = params.get("filename", "?") if params else "?"
                raise OutputTooLarge(name, exc.limit, server=self._server) from None
            raise UnexpectedResponse(
                path,
                status,
                f"a body of {exc.size} is over the {exc.limit}-byte limit",
                server=self._server,
            ) from None
        except TimeoutError:
            raise BackendUnavailable(
                self.endpoint.name, f"{method} {path} timed out", server=self._server
            ) from None
        except aiohttp.ClientError as exc:
            raise BackendUnavailable(
                self.endpoint.name, f"{method} {path}: {type(exc).__name__}", server=self._server
            ) from None
        return self._decode(
            path, status, body, expect, json_body.get("prompt") if isinstance(json_body, dict) else None
        )

    async def _read_body(self, response: aiohttp.ClientResponse, limit: int) -> bytes:
        """The whole body, or ``_BodyTooLarge`` as soon as it is known to pass ``limit``."""
        declared = response.content_length
        if declared is not None and declared > limit:
            raise _BodyTooLarge(f"{declared} bytes (declared)", limit)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(_READ_CHUNK):
            size += len(chunk)
            if size > limit:
                raise _BodyTooLarge(f"more than {limit} bytes", limit)
            chunks.append(chunk)
        return b"".join(chunks)

    def _decode(
        self, path: str, status: int, body: bytes, expect: str, graph: Mapping[str, Any] | None = None
    ) -> Any:
        if status == 413:
            raise UploadTooLarge(body.decode(errors="replace")[:200], server=self._server)
        if status == 403:
            raise OriginForbidden(path, server=self._server)
        if status == 400 and path == "/prompt":
            raise rejection_from_body(self._json_or_none(body), graph=graph, server=self._server)
        if status >= 300:
            raise UnexpectedResponse(path, status, body.decode(errors="replace"), server=self._server)
        if expect == "bytes":
            return body
        if expect == "none":
            return None
        parsed = self._json_or_none(body)
        if parsed is None:
            raise UnexpectedResponse(path, status, body.decode(errors="replace"), server=self._server)
        return parsed

    @staticmethod
    def _json_or_none(body: bytes) -> Any:
        try:
            return strict_loads(body) if body else None
        except StrictJSONError:
            return None

    async def _idempotent(self, call: Callable[[], Awaitable[T]]) -> T:
        """Retry a call that is safe to repeat, on unreachable backends and 502/503/504 only."""
        for attempt in range(self._retry.attempts):
            try:
                return await call()
            except BackendUnavailable:
                if attempt + 1 >= self._retry.attempts:
                    raise
            except UnexpectedResponse as exc:
                if exc.status not in _RETRYABLE_STATUS or attempt + 1 >= self._retry.attempts:
                    raise
            delay = self._retry.backoff.delay(attempt)
            log.debug("retrying %s in %.2fs (attempt %d)", self.endpoint.name, delay, attempt + 2)
            await self._retry.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    # --- uploads -----------------------------------------------------------------------------------

    async def upload_image(
        self,
        data: bytes,
        filename: str,
        *,
        subfolder: str = UPLOAD_SUBFOLDER,
        overwrite: bool = False,
        kind: str = "input",
        hashed_name: bool = True,
    ) -> UploadedFile:
        """Upload an input image; use the name the server returns (it may rename)."""
        name = content_name(data, filename) if hashed_name else filename

        def form() -> aiohttp.FormData:
            payload = aiohttp.FormData()
            # A stream, not bytes: aiohttp warns that large raw bodies may block the loop.
            payload.add_field(
                "image", io.BytesIO(data), filename=name, content_type="application/octet-stream"
            )
            payload.add_field("overwrite", "true" if overwrite else "false")
            payload.add_field("type", kind)
            if subfolder:
                payload.add_field("subfolder", subfolder)
            return payload

        body = await self._idempotent(lambda: self._request("POST", "/upload/image", data=form()))
        return self._uploaded(body, "/upload/image")

    async def upload_mask(
        self, data: bytes, filename: str, original: UploadedFile, *, subfolder: str = UPLOAD_SUBFOLDER
    ) -> UploadedFile:
        """Upload a mask applied onto an uploaded original's alpha channel (``/upload/mask``)."""
        name = content_name(data, filename)
        ref = json.dumps({"filename": original.name, "subfolder": original.subfolder, "type": original.type})

        def form() -> aiohttp.FormData:
            payload = aiohttp.FormData()
            payload.add_field(
                "image", io.BytesIO(data), filename=name, content_type="application/octet-stream"
            )
            payload.add_field("original_ref", ref)
            payload.add_field("type", "input")
            payload.add_field("subfolder", subfolder)
            return payload

        body = await self._idempotent(lambda: self._request("POST", "/upload/mask", data=form()))
        return self._uploaded(body, "/upload/mask")

    def _uploaded(self, body: Any, path: str) -> UploadedFile:
        if not isinstance(body, Mapping) or not isinstance(body.get("name"), str):
            raise UnexpectedResponse(path, 200, json.dumps(body)[:200], server=self._server)
        return UploadedFile(body["name"], str(body.get("subfolder") or ""), str(body.get("type") or "input"))

    # --- prompts -----------------------------------------------------------------------------------

    async def queue_prompt(
        self,
        graph: Mapping[str, Any],
        *,
        client_id: str,
        prompt_id: str,
        number: float | None = None,
        front: bool = False,
        extra_data: Mapping[str, Any] | None = None,
    ) -> QueuedPrompt:
        """Submit a graph. Raises PromptRejected on 400; returns node_errors of a partial accept."""
        payload: dict[str, Any] = {"prompt": graph, "client_id": client_id, "prompt_id": prompt_id}
        if number is not None:
            payload["number"] = number
        elif front:
            payload["front"] = True
        if extra_data:
            payload["extra_data"] = dict(extra_data)
        try:
            body = await self._request("POST", "/prompt", json_body=payload)
        except BackendUnavailable:
            if await self._was_accepted(prompt_id):
                log.info("submit of prompt %s lost its answer but the server has it", prompt_id)
                return QueuedPrompt(prompt_id, float("nan"))
            raise
        if not isinstance(body, Mapping) or "prompt_id" not in body:
            raise UnexpectedResponse("/prompt", 200, json.dumps(body)[:200], server=self._server)
        node_errors = body.get("node_errors")
        problems: tuple[NodeProblem, ...] = ()
        if isinstance(node_errors, Mapping) and node_errors:
            problems = tuple(
                rejection_from_body(body, partial=True, graph=graph, server=self._server).problems
            )
        number_value = body.get("number")
        return QueuedPrompt(
            str(body["prompt_id"]),
            float(number_value) if isinstance(number_value, (int, float)) else float("nan"),
            problems,
        )

    async def _was_accepted(self, prompt_id: str) -> bool:
        """After a lost answer: is the prompt queued, running or done? (False if we cannot tell.)"""
        try:
            if (await self.get_queue()).contains(prompt_id):
                return True
            return await self.get_history(prompt_id) is not None
        except ComfyError:
            return False

    async def get_queue(self) -> QueueSnapshot:
        body = await self._idempotent(lambda: self._request("GET", "/queue"))
        if not isinstance(body, Mapping):
            raise UnexpectedResponse("/queue", 200, json.dumps(body)[:200], server=self._server)
        # ComfyUI's heap orders by (number, prompt_id).
        pending = sorted(
            _queue_items(body.get("queue_pending")), key=lambda item: (item.number, item.prompt_id)
        )
        return QueueSnapshot(tuple(_queue_items(body.get("queue_running"))), tuple(pending))

    async def delete_pending(self, prompt_ids: Iterable[str]) -> None:
        """Remove prompts that have not started; running ones are untouched (use interrupt)."""
        ids = list(prompt_ids)
        if ids:
            await self._idempotent(
                lambda: self._request("POST", "/queue", json_body={"delete": ids}, expect="none")
            )

    async def interrupt(self, prompt_id: str) -> None:
        """Interrupt ``prompt_id`` if it is the one running. There is deliberately no global variant."""
        await self._idempotent(
            lambda: self._request("POST", "/interrupt", json_body={"prompt_id": prompt_id}, expect="none")
        )

    async def get_history(self, prompt_id: str) -> HistoryEntry | None:
        body = await self._idempotent(lambda: self._request("GET", f"/history/{prompt_id}"))
        if not isinstance(body, Mapping):
            raise UnexpectedResponse("/history", 200, json.dumps(body)[:200], server=self._server)
        entry = body.get(prompt_id)
        return _history_entry(prompt_id, entry) if isinstance(entry, Mapping) else None

    async def view(self, output: OutputFile, *, max_bytes: int | None = None) -> bytes:
        """The bytes of an output file, streamed and refused (``OutputTooLarge``) as soon as they pass
        ``max_bytes`` (default: the client's body limit)."""
        params = {"filename": output.filename, "subfolder": output.subfolder, "type": output.type}
        result: bytes = await self._idempotent(
            lambda: self._request("GET", "/view", params=params, expect="bytes", max_body=max_bytes)
        )
        return result

    # --- information -------------------------------------------------------------------------------

    async def object_info(self, class_type: str | None = None) -> dict[str, Any]:
        path = "/object_info" if class_type is None else f"/object_info/{class_type}"
        body = await self._idempotent(lambda: self._request("GET", path))
        if not isinstance(body, dict):
            raise UnexpectedResponse(path, 200, json.dumps(body)[:200], server=self._server)
        return body

    async def system_stats(self) -> dict[str, Any]:
        body = await self._idempotent(lambda: self._request("GET", "/system_stats"))
        if not isinstance(body, dict):
            raise UnexpectedResponse("/system_stats", 200, json.dumps(body)[:200], server=self._server)
        return body

    async def features(self) -> dict[str, Any]:
        body = await self._idempotent(lambda: self._request("GET", "/features"))
        if not isinstance(body, dict):
            raise UnexpectedResponse("/features", 200, json.dumps(body)[:200], server=self._server)
        return body
