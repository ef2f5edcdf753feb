"""A small HTTP server for ``/metrics`` (Prometheus) and ``/healthz`` (Docker, load balancers, uptime checks).

It binds 127.0.0.1 by default: the numbers name backends and templates, which is nobody's business
outside the host unless the owner says so (METRICS_HOST).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from bot.config import Settings
from bot.observability.metrics import Metrics, PoolView

log = logging.getLogger(__name__)

NOT_CONNECTED: str = "discord gateway not connected"
NO_BACKEND: str = "no healthy ComfyUI backend"


class MetricsServer:
    """Serves ``/metrics`` and ``/healthz``; ``start()`` binds, ``stop()`` releases the port."""

    def __init__(
        self,
        metrics: Metrics,
        *,
        pool: PoolView,
        gateway_connected: Callable[[], bool],
        port: int,
        host: str = "127.0.0.1",
        checks: Callable[[], Awaitable[list[str]]] | None = None,
    ) -> None:
        """``checks()`` adds what else is wrong: a background loop that is down, a database that does
        not answer (see App.health)."""
        self._metrics = metrics
        self._pool = pool
        self._gateway_connected = gateway_connected
        self._checks = checks
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None

    # --- health -----------------------------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Why the bot is not healthy (empty when it is): the gateway is down, or every backend is."""
        problems = []
        try:
            connected = bool(self._gateway_connected())
        except Exception:
            log.exception("gateway_connected() failed; reporting the gateway as down")
            connected = False
        if not connected:
            problems.append(NOT_CONNECTED)
        if not any(backend.healthy for backend in self._pool.backends):
            problems.append(NO_BACKEND)
        return problems

    async def all_problems(self) -> list[str]:
        """``problems()`` and whatever ``checks()`` finds."""
        problems = self.problems()
        if self._checks is not None:
            try:
                problems += await self._checks()
            except Exception:
                log.exception("health checks failed")
                problems.append("health checks failed")
        return problems

    async def _healthz(self, request: web.Request) -> web.Response:
        problems = await self.all_problems()
        if problems:
            return web.Response(status=503, text="\n".join(problems) + "\n")
        return web.Response(text="ok\n")

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", make_aiohttp_handler(self._metrics.registry))
        app.router.add_get("/healthz", self._healthz)
        return app

    # --- lifecycle ----------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with port 0); the configured one before start."""
        if self._runner is not None:
            for address in self._runner.addresses:
                if isinstance(address, tuple) and len(address) >= 2:
                    return int(address[1])
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve; raises OSError (port in use, bad host) with nothing left behind."""
        if self._runner is not None:
            raise RuntimeError("MetricsServer is already running")
        runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info("metrics and health on %s (/metrics, /healthz)", self.url)

    async def stop(self) -> None:
        """Close the listening socket and any open connections; safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


def metrics_server_for(
    settings: Settings,
    metrics: Metrics,
    *,
    pool: PoolView,
    gateway_connected: Callable[[], bool],
    checks: Callable[[], Awaitable[list[str]]] | None = None,
) -> MetricsServer | None:
    """The server METRICS_PORT/METRICS_HOST ask for, or None when METRICS_PORT is unset (the default)."""
    if settings.metrics_port is None:
        return None
    return MetricsServer(
        metrics,
        pool=pool,
        gateway_connected=gateway_connected,
        port=settings.metrics_port,
        host=settings.metrics_host,
        checks=checks,
    )
