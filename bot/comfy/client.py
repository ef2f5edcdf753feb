"""The face of one backend: its HTTP API, its one websocket, and runs of prompts."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import aiohttp

from bot.comfy.connection import BackendConnection
from bot.comfy.endpoint import Endpoint
from bot.comfy.http import ComfyHttp
from bot.comfy.retry import Backoff, RetryPolicy, Sleep
from bot.comfy.run import DEFAULT_MAX_OUTPUT_BYTES, PromptRun, SubmitGuard


class ComfyClient:
    """One backend. The aiohttp session is borrowed; ``client_id`` is persisted by the caller."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        endpoint: Endpoint,
        *,
        client_id: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        backoff: Backoff | None = None,
        sleep: Sleep | None = None,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    ) -> None:
        """``max_output_bytes``: the largest result file fetched (larger ones become a note)."""
        self.endpoint = endpoint
        self.max_output_bytes = max_output_bytes
        self.client_id = client_id or uuid.uuid4().hex
        self.http = ComfyHttp(session, endpoint, timeout=timeout, retry=retry)
        kwargs: dict[str, Any] = {"backoff": backoff}
        if sleep is not None:
            kwargs["sleep"] = sleep
        self.connection = BackendConnection(session, endpoint, self.client_id, self.http, **kwargs)
        self._connect_timeout = timeout

    @property
    def name(self) -> str:
        """The backend's stable key (its address): for storage, logs and metrics, never for members."""
        return self.endpoint.name

    @property
    def display_name(self) -> str:
        """What members read: the configured name, or "GPU n"."""
        return self.endpoint.display_name

    def start(self) -> None:
        self.connection.start()

    async def close(self) -> None:
        await self.connection.close()

    async def __aenter__(self) -> ComfyClient:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def run(
        self,
        graph: Mapping[str, Any],
        *,
        prompt_id: str | None = None,
        output_nodes: frozenset[str] | None = None,
        extra_data: Mapping[str, Any] | None = None,
        submit_guard: SubmitGuard | None = None,
    ) -> PromptRun:
        """Submit ``graph`` when iterated; ``prompt_id`` is ours to choose (persist it first).

        ``submit_guard`` is entered around ``POST /prompt`` (see ``SubmitGuard``)."""
        return PromptRun(
            self.http,
            self.connection,
            graph,
            prompt_id=prompt_id or str(uuid.uuid4()),
            output_nodes=output_nodes,
            extra_data=extra_data,
            connect_timeout=self._connect_timeout,
            submit_guard=submit_guard,
            max_output_bytes=self.max_output_bytes,
        )

    def attach(
        self, graph: Mapping[str, Any], prompt_id: str, *, output_nodes: frozenset[str] | None = None
    ) -> PromptRun:
        """Follow a prompt submitted earlier (e.g. before a restart) without submitting it again."""
        return PromptRun(
            self.http,
            self.connection,
            graph,
            prompt_id=prompt_id,
            output_nodes=output_nodes,
            connect_timeout=self._connect_timeout,
            attach=True,
            max_output_bytes=self.max_output_bytes,
        )
