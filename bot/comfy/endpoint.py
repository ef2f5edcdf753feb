"""Where a ComfyUI backend lives, how to authenticate to it, and what members call it."""

from __future__ import annotations

import base64
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from bot.secret import Secret

MAX_DISPLAY_NAME = 32
"""Longest display name: it sits in embed titles ("Running on ...") and one-line lists."""

NAME_PUNCTUATION = frozenset(" -.'()+/&")
"""Punctuation a display name may use besides letters, digits and symbols such as emoji. Everything
Discord reads as markdown, a mention or a link (``* _ ~ ` | > # [ ] < @ \\ :``) is left out, and so is
``,`` (the separator of COMFYUI_NAMES); ``#`` also starts a comment in a .env file after a space."""


def default_display_name(position: int) -> str:
    """The name of the ``position``-th backend (1-based) when the owner gives none: "GPU 1", "GPU 2"."""
    return f"GPU {position}"


def display_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be shown to members as a backend's name; None when it can.

    A name goes into embeds and message text as is, so it may not carry markdown, mentions, links,
    line breaks or invisible characters, and it starts with a letter, digit or symbol so it can never
    open a heading, a list item or a quote.
    """
    if not name:
        return "is empty"
    if len(name) > MAX_DISPLAY_NAME:
        return f"is {len(name)} characters long; the limit is {MAX_DISPLAY_NAME}"
    if not _starts_plainly(name[0]):
        return "must start with a letter, a digit or a symbol such as an emoji"
    bad = sorted({ch for ch in name if not _allowed(ch)})
    if bad:
        shown = " ".join(repr(ch) for ch in bad[:5])
        return f"may use letters, digits, spaces, emoji and - . ' ( ) + / & only, not {shown}"
    return None


def _starts_plainly(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LN" or unicodedata.category(ch) == "So"


def _allowed(ch: str) -> bool:
    category = unicodedata.category(ch)
    # Letters, combining marks (needed by many scripts), numbers and symbols like emoji; no control,
    # format (zero-width), separator-other-than-space or markdown punctuation characters.
    return category[0] in "LMN" or category == "So" or ch in NAME_PUNCTUATION


@dataclass(frozen=True, slots=True)
class BackendAuth:
    """Extra headers a proxy in front of ComfyUI wants. ComfyUI itself has no auth."""

    kind: str = "none"  # none | bearer | basic | header
    header_name: str = ""
    value: Secret = field(default_factory=lambda: Secret(""))

    def headers(self) -> dict[str, str]:
        if self.kind == "bearer":
            return {"Authorization": f"Bearer {self.value.reveal()}"}
        if self.kind == "basic":
            token = base64.b64encode(self.value.reveal().encode()).decode()
            return {"Authorization": f"Basic {token}"}
        if self.kind == "header":
            return {self.header_name: self.value.reveal()}
        return {}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One backend: a base URL (http or https, no credentials), its auth, and its display name.

    Two identities, kept apart on purpose: ``name`` is the address (host, port, path), the stable key
    that jobs, logs and metrics use, so renaming a backend orphans nothing; ``display_name`` is what
    members read, because the address tells everyone where an unauthenticated ComfyUI listens.
    """

    base_url: str
    auth: BackendAuth = field(default_factory=BackendAuth)
    display_name: str = default_display_name(1)

    @property
    def name(self) -> str:
        """The backend's key: its address without scheme or credentials. Operators only, never members."""
        parts = urlsplit(self.base_url)
        return parts.netloc + parts.path.rstrip("/")

    def http_url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def ws_url(self, client_id: str) -> str:
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        path = parts.path.rstrip("/") + "/ws"
        return urlunsplit((scheme, parts.netloc, path, f"clientId={client_id}", ""))
