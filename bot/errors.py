"""One error hierarchy for every layer.

Each error carries a ``user_message``: plain words safe to show a Discord member or print in a
terminal. ``str(error)`` may carry more detail for logs, but never a secret.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

# --- text from a server, before a member sees it -------------------------------------------------------

#: One path segment: anything but separators, spaces, quotes and the punctuation that ends a path in
#: prose. Inside a path, segments may hold single spaces when another separator follows them.
_SEG: Final = r"[^\s/\\'\"<>|,;]+"
_WSEG: Final = r"[^\s/\\'\"<>|,;:*?]+"
_POSIX: Final = rf"(?<![\w.~/\\-])(?:/(?:{_SEG}(?: {_SEG})*(?=/)|{_SEG}))+"
_HOME: Final = rf"(?<![\w/\\])~(?:[\w.-]+(?: [\w.-]+)*)?(?=/)(?:/(?:{_SEG}(?: {_SEG})*(?=/)|{_SEG}))+"
_WINDOWS: Final = rf"(?<![\w\\])[A-Za-z]:(?:[\\/]+(?:{_WSEG}(?: {_WSEG})*(?=[\\/])|{_WSEG}))+[\\/]?"
_UNC: Final = (
    rf"(?<![\w\\])\\{{2,}}{_WSEG}(?: {_WSEG})*(?=[\\/])"
    rf"(?:[\\/]+(?:{_WSEG}(?: {_WSEG})*(?=[\\/])|{_WSEG}))+"
)
_URL: Final = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
_QUOTED_PATH: Final = re.compile(r"""(['"])((?:[A-Za-z]:[\\/]|\\\\|/|~[\w.-]*/)[^'"\n]*)\1""")
_BARE_PATH: Final = re.compile(f"{_URL.pattern}|{_WINDOWS}|{_UNC}|{_HOME}|{_POSIX}")
_FILE_NAME: Final = re.compile(r"[^.\s][^/\\]*\.[A-Za-z0-9]{1,12}")
_TRAILING: Final = ".,:;)]}!?"
HIDDEN_PATH: Final = "[path]"


def _short_path(path: str) -> str:
    """A file's name alone (``x.safetensors``), or ``[path]`` for a folder: never where it lives."""
    last = re.split(r"[\\/]+", path.rstrip("\\/"))[-1]
    return last if _FILE_NAME.fullmatch(last) else HIDDEN_PATH


def _short_url(url: str) -> str:
    """``scheme://host/…/file`` without credentials, port, query or the rest of the path."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "[link]"
    last = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return f"{parts.scheme}://{host}" + (f"/…/{last}" if last else "")


def _bare(match: re.Match[str]) -> str:
    text = match.group(0)
    kept = len(text.rstrip(_TRAILING))
    if text[kept:].startswith(")") and "(" in text[:kept]:
        kept = len(text) - len(text[kept:].lstrip(")")) + 1  # "model (1).pt)": keep the paired one
    core, tail = text[:kept], text[kept:]
    if "://" in core:
        return _short_url(core) + tail
    return _short_path(core) + tail


def scrub_server_text(text: str) -> str:
    """``text`` from a server with every file path and URL cut down to what a member may see.

    Paths (POSIX, Windows drive, UNC, ``~``; quoted ones may hold spaces) keep only a file's name
    and folders become ``[path]``; URLs lose their credentials, port, query and all but the last
    path segment. This is the one function every server message passes through (execution errors,
    validation details) before it reaches a member.
    """
    text = _QUOTED_PATH.sub(lambda m: m.group(1) + _short_path(m.group(2)) + m.group(1), text)
    return _BARE_PATH.sub(_bare, text)


class BotError(Exception):
    """Base of every expected failure; ``user_message`` is safe to show to anyone."""

    def __init__(self, user_message: str, *, detail: str | None = None) -> None:
        super().__init__(detail or user_message)
        self.user_message = user_message


# --- configuration -------------------------------------------------------------------------------


class ConfigError(BotError):
    """The settings are invalid; ``problems`` lists every one of them."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"The configuration has {len(self.problems)} problem(s):\n{lines}")


# --- ComfyUI ----------------------------------------------------------------------------------------


def _subject(server: str | None) -> str:
    return server or "The image server"


def _object(server: str | None) -> str:
    return server or "the image server"


class ComfyError(BotError):
    """Something went wrong talking to, or running on, a ComfyUI backend.

    ``server`` is the backend's display name when the raiser knows it. Member-facing words name it
    ("GPU 2 is not answering"); the backend's address only ever goes into the detail, for the logs.
    """

    def __init__(self, user_message: str, *, detail: str | None = None, server: str | None = None) -> None:
        super().__init__(user_message, detail=detail)
        self.server = server


class BackendUnavailable(ComfyError):
    """The backend could not be reached (refused, timed out, DNS, TLS)."""

    def __init__(self, backend: str, reason: str, *, server: str | None = None) -> None:
        super().__init__(
            f"{_subject(server)} is not answering right now.",
            detail=f"backend {backend} unreachable: {reason}",
            server=server,
        )
        self.backend = backend
        self.reason = reason


@dataclass(frozen=True, slots=True)
class NodeProblem:
    """One validation problem ComfyUI reported for one node input."""

    node_id: str
    class_type: str
    input_name: str | None
    error_type: str
    message: str
    details: str = ""

    def describe(self) -> str:
        where = f"node {self.node_id} ({self.class_type or 'unknown node'})"
        if self.input_name:
            where += f", input '{self.input_name}'"
        # ``message`` is already in plain words (with what the details add, see comfy.rejections).
        return scrub_server_text(f"{where}: {self.message}")


class PromptRejected(ComfyError):
    """ComfyUI refused the workflow at validation (HTTP 400, or 200 with node_errors)."""

    def __init__(
        self,
        error_type: str,
        message: str,
        problems: Sequence[NodeProblem] = (),
        *,
        partial: bool = False,
        prompt_id: str | None = None,
        server: str | None = None,
    ) -> None:
        self.error_type = error_type
        self.message = message
        self.problems = list(problems)
        self.partial = partial
        self.prompt_id = prompt_id
        lines = [p.describe() for p in self.problems] or [scrub_server_text(message)]
        head = "Some outputs of the workflow were rejected" if partial else "The workflow was rejected"
        super().__init__(f"{head} by {_object(server)}: " + "; ".join(lines), server=server)


class ExecutionFailed(ComfyError):
    """The workflow started but a node raised an exception."""

    def __init__(
        self,
        node_id: str,
        node_type: str,
        exception_type: str,
        exception_message: str,
        *,
        server: str | None = None,
    ) -> None:
        self.node_id = node_id
        self.node_type = node_type
        self.exception_type = exception_type
        self.exception_message = exception_message.strip()
        # Server-side paths mean nothing to a member (and say more about the server than needed).
        shown = scrub_server_text(self.exception_message)
        node_type = scrub_server_text(node_type)
        kind = exception_type.rsplit(".", 1)[-1]
        if not shown.strip("'\" "):
            shown = kind  # e.g. KeyError('') says nothing but its type
        elif kind not in ("Exception", ""):
            shown = f"{kind}: {shown}"
        super().__init__(
            f"{_subject(server)} failed at node {node_id} ({node_type}): {shown}",
            detail=f"{exception_type} at node {node_id} ({node_type}): {self.exception_message}",
            server=server,
        )


class ExecutionInterrupted(ComfyError):
    """The run was interrupted (cancelled, or stopped for taking too long)."""

    def __init__(self, node_id: str | None = None, node_type: str | None = None) -> None:
        self.node_id = node_id
        self.node_type = node_type
        where = f" at node {node_id} ({node_type})" if node_id else ""
        super().__init__(f"The job was interrupted{where}.")


class UploadTooLarge(ComfyError):
    """The backend refused a request body as too large (HTTP 413)."""

    def __init__(self, limit_text: str = "", *, server: str | None = None) -> None:
        super().__init__(
            f"The image is too large for {_object(server)}.",
            detail=f"413 from backend: {limit_text}".strip(),
            server=server,
        )


class OriginForbidden(ComfyError):
    """The backend's origin check refused the request (HTTP 403)."""

    def __init__(self, path: str, *, server: str | None = None) -> None:
        super().__init__(
            f"{_subject(server)} refused the connection (origin check).",
            detail=f"403 on {path}: check that no proxy adds a mismatching Origin header",
            server=server,
        )


class UnexpectedResponse(ComfyError):
    """The backend answered with something we cannot use (a 5xx page, bad JSON, a wrong shape)."""

    def __init__(self, path: str, status: int, snippet: str, *, server: str | None = None) -> None:
        self.path = path
        self.status = status
        self.snippet = snippet[:200]
        super().__init__(
            f"{_subject(server)} gave an unexpected answer.",
            detail=f"{path} answered {status}: {self.snippet!r}",
            server=server,
        )


class PromptLost(ComfyError):
    """The backend no longer knows the prompt (it restarted, or its queue was cleared)."""

    def __init__(self, backend: str, prompt_id: str, *, server: str | None = None) -> None:
        self.prompt_id = prompt_id
        # Members only read this once every retry is spent, so it promises no further run.
        super().__init__(
            f"{_subject(server)} lost the job (it restarted or its queue was cleared).",
            detail=f"prompt {prompt_id} is in neither the queue nor the history of {backend}",
            server=server,
        )


class OutputsLost(ComfyError):
    """The run succeeded but some SaveImageWebsocket frames were sent while we were disconnected."""

    def __init__(self, prompt_id: str, missing: str, *, server: str | None = None) -> None:
        self.prompt_id = prompt_id
        super().__init__(
            f"Some results from {_object(server)} were lost on the way.",
            detail=f"prompt {prompt_id}: {missing}",
            server=server,
        )


class OutputTooLarge(ComfyError):
    """An output file on the server is larger than what the bot fetches (``OUTPUT_MAX_BYTES``)."""

    def __init__(self, filename: str, limit: int, *, server: str | None = None) -> None:
        self.filename = filename
        self.limit = limit
        super().__init__(
            f"The result file {filename} on {_object(server)} is larger than the "
            f"{limit / (1024 * 1024):.0f} MiB I fetch, so it was left there.",
            detail=f"/view {filename}: over {limit} bytes",
            server=server,
        )


class NothingToDeliver(ComfyError):
    """The run succeeded but left nothing the bot can post (no image, video, audio or text)."""

    def __init__(self, prompt_id: str, found: str, *, server: str | None = None) -> None:
        self.prompt_id = prompt_id
        super().__init__(
            f"The workflow finished on {_object(server)} but produced nothing I can post "
            f"(no image, animation, video, audio or text{found}).",
            detail=f"prompt {prompt_id}: nothing deliverable{found}",
            server=server,
        )


# --- templates and user input ---------------------------------------------------------------------


class TemplateError(BotError):
    """One or more workflow templates are invalid; ``problems`` names file and parameter."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("Template problems:\n" + "\n".join(f"  - {p}" for p in self.problems))


class InvalidParameter(BotError):
    """A value a member gave does not fit the template's parameter."""

    def __init__(self, param: str, message: str) -> None:
        self.param = param
        super().__init__(f"`{param}`: {message}")


class InvalidInput(BotError):
    """An attached file or other input is unusable."""


# --- jobs ----------------------------------------------------------------------------------------


class JobError(BotError):
    """A job operation cannot be done."""


class QueueFull(JobError):
    """A per-user or global queue limit was reached."""


class JobNotFound(JobError):
    """No job with that id (or not one you may touch)."""


class LimitReached(QueueFull):
    """A member's own limit (queue, cooldown, daily quota) refused a request when its job was stored."""

    def __init__(self, message: str, *, rule: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.retry_after = retry_after


class NoCapableBackend(JobError):
    """No image server this bot knows can run the template (a missing model or node)."""
