"""Running the bot as a service: Prometheus metrics, a /healthz endpoint, and log redaction.

Plain asyncio + aiohttp + prometheus-client; nothing here imports discord. discord.py's HTTP session
reports into ``Metrics`` through ``discord_trace``, moderation through plain methods, and the Discord
layer gives ``MetricsServer`` a ``gateway_connected`` callable.
"""

from bot.observability.discord_http import DiscordCounters, discord_trace, route_kind
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
    "DiscordCounters",
    "EngineView",
    "LiveStateCollector",
    "Metrics",
    "MetricsServer",
    "PoolView",
    "QueueView",
    "RedactingFilter",
    "WaitingView",
    "discord_trace",
    "metrics_server_for",
    "redact",
    "route_kind",
    "secrets_of",
]
