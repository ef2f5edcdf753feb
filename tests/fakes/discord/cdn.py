"""A loopback CDN serving attachment bytes at ``/attachments/{channel_id}/{attachment_id}/{filename}``.

URLs carry ``ex``/``is``/``hm`` like Discord's signed CDN URLs. An attachment can be made to expire
(``FakeDiscord.expire_attachment``, answering 404 or 403) or expire after ``attachment_url_lifetime``.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable

from aiohttp import web

from .recording import RecordedRequest, Stats
from .state import State

EXPIRED_TEXT = "This content is no longer available."


class Cdn:
    def __init__(
        self, state: State, log: list[RecordedRequest], stats: Stats, url_lifetime: Callable[[], float | None]
    ) -> None:
        self.state = state
        self.log = log
        self.stats = stats
        self._url_lifetime = url_lifetime

    async def handle(self, request: web.Request) -> web.Response:
        record = RecordedRequest(
            request.method, request.path, dict(request.query), dict(request.headers), kind="cdn"
        )
        self.log.append(record)
        self.stats.cdn_downloads += 1
        response = self._answer(request)
        record.status = response.status
        return response

    def _answer(self, request: web.Request) -> web.Response:
        info = request.match_info
        att = self.state.attachments.get(info["attachment_id"])
        if (
            att is None
            or att.channel_id != info["channel_id"]
            or urllib.parse.unquote(info["filename"]) != att.filename
        ):
            return web.Response(status=404, text="404: Not Found")
        if att.expired_status is not None:
            return web.Response(status=att.expired_status, text=EXPIRED_TEXT)
        lifetime = self._url_lifetime()
        now = time.monotonic()
        if (att.expires_at is not None and now > att.expires_at) or (
            lifetime is not None and now - att.created_at > lifetime
        ):
            return web.Response(status=404, text=EXPIRED_TEXT)
        return web.Response(
            body=att.data, headers={"Content-Type": att.content_type or "application/octet-stream"}
        )
