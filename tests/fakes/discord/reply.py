"""A route handler's answer and its conversion to an aiohttp response."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    status: int = 200
    body: Any = None  #: JSON-serialisable; None means no body
    headers: dict[str, str] = field(default_factory=dict)

    def to_response(self) -> web.Response:
        if self.body is None:
            return web.Response(status=self.status, headers=self.headers)
        # discord.py parses JSON only if Content-Type is exactly "application/json" (http.py json_or_text);
        # aiohttp's json_response would append "; charset=utf-8".
        headers = {"Content-Type": "application/json", **self.headers}
        return web.Response(status=self.status, body=json.dumps(self.body).encode(), headers=headers)
