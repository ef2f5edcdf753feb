"""Running the bot as a service: Prometheus metrics, a /healthz endpoint, and log redaction.

Plain asyncio + aiohttp + prometheus-client; nothing here imports discord. The Discord layer reports
into ``Metrics`` through plain methods, and gives ``MetricsServer`` a ``gateway_connected`` callable.
"""

from bot.observability.logs import RedactingFilter, redact, secrets_of
from bot.observability.metrics import (
    BackendView,
    EngineView,
    LiveStateCollector,
    Metrics,
    PoolView,
    QueueView,
    WaitingView,
)
from bot.observability.server import NO_BACKEND, NOT_CONNECTED, MetricsServer, metrics_server_for

__all__ = [
    "NOT_CONNECTED",
    "NO_BACKEND",
    "BackendView",
    "EngineView",
    "LiveStateCollector",
    "Metrics",
    "MetricsServer",
    "PoolView",
    "QueueView",
    "RedactingFilter",
    "WaitingView",
    "metrics_server_for",
    "redact",
    "secrets_of",
]
