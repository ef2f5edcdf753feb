"""Where a ComfyUI backend lives and how to authenticate to it."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from bot.secret import Secret


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
    """One backend: a base URL (http or https, no credentials) and its auth."""

    base_url: str
    auth: BackendAuth = field(default_factory=BackendAuth)

    @property
    def name(self) -> str:
        """A short, secret-free label for logs and messages."""
        parts = urlsplit(self.base_url)
        return parts.netloc + parts.path.rstrip("/")

    def http_url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def ws_url(self, client_id: str) -> str:
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        path = parts.path.rstrip("/") + "/ws"
        return urlunsplit((scheme, parts.netloc, path, f"clientId={client_id}", ""))
