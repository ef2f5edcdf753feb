"""MetricsServer: /healthz and /metrics on a real aiohttp server bound to 127.0.0.1, port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest

from bot.config import load_settings
from bot.observability import NO_BACKEND, NOT_CONNECTED, Metrics, MetricsServer, metrics_server_for
from tests.unit.observability.standins import StandInEngine


class Gateway:
    """A switchable ``gateway_connected`` callable."""

    def __init__(self) -> None:
        self.connected = True

    def __call__(self) -> bool:
        return self.connected


@pytest.fixture
def gateway() -> Gateway:
    return Gateway()


@pytest.fixture
async def server(metrics: Metrics, engine: StandInEngine, gateway: Gateway) -> AsyncIterator[MetricsServer]:
    metrics.attach(engine)
    server = MetricsServer(metrics, pool=engine.pool, gateway_connected=gateway, port=0)
    await server.start()
    yield server
    await server.stop()


async def get(server: MetricsServer, path: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(server.url + path) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


async def test_healthy_when_the_gateway_is_up_and_a_backend_is_healthy(server: MetricsServer) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    assert server.port != 0
    status, content_type, body = await get(server, "/healthz")
    assert (status, body.strip()) == (200, "ok")
    assert content_type.startswith("text/plain")


async def test_unhealthy_without_the_gateway(server: MetricsServer, gateway: Gateway) -> None:
    gateway.connected = False
    status, _, body = await get(server, "/healthz")
    assert (status, body.strip()) == (503, NOT_CONNECTED)
    assert NOT_CONNECTED == "discord gateway not connected"


async def test_unhealthy_without_a_healthy_backend(server: MetricsServer, engine: StandInEngine) -> None:
    for backend in engine.pool.backends:
        backend.healthy = False
    status, _, body = await get(server, "/healthz")
    assert (status, body.strip()) == (503, NO_BACKEND)
    assert NO_BACKEND == "no healthy ComfyUI backend"


async def test_every_reason_is_given(server: MetricsServer, engine: StandInEngine, gateway: Gateway) -> None:
    gateway.connected = False
    engine.pool.backends.clear()
    status, _, body = await get(server, "/healthz")
    assert status == 503
    assert body.splitlines() == [NOT_CONNECTED, NO_BACKEND]


async def test_a_failing_gateway_check_counts_as_down(
    metrics: Metrics, engine: StandInEngine, caplog
) -> None:
    def broken() -> bool:
        raise RuntimeError("client not built yet")

    server = MetricsServer(metrics, pool=engine.pool, gateway_connected=broken, port=0)
    assert server.problems() == [NOT_CONNECTED]
    assert "gateway_connected() failed" in caplog.text


async def test_metrics_are_served_in_the_text_format(server: MetricsServer, metrics: Metrics) -> None:
    metrics.discord_rate_limited()
    status, content_type, body = await get(server, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    assert 'comfycord_backend_healthy{backend="gpu-a:8188"} 1.0' in body
    assert 'comfycord_backend_healthy{backend="gpu-b:8188"} 0.0' in body
    assert 'comfycord_queue_depth{lane="default"} 0.0' in body
    assert "comfycord_discord_rate_limited_total 1.0" in body


async def test_stop_releases_the_port(metrics: Metrics, engine: StandInEngine, gateway: Gateway) -> None:
    server = MetricsServer(metrics, pool=engine.pool, gateway_connected=gateway, port=0)
    await server.start()
    url = server.url
    assert server.running
    await server.stop()
    await server.stop()  # twice is fine
    assert not server.running
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(url + "/healthz")


async def test_starting_twice_is_refused(server: MetricsServer) -> None:
    with pytest.raises(RuntimeError):
        await server.start()


async def test_a_taken_port_fails_to_start_and_leaves_nothing_behind(
    server: MetricsServer, metrics: Metrics, engine: StandInEngine, gateway: Gateway
) -> None:
    clash = MetricsServer(metrics, pool=engine.pool, gateway_connected=gateway, port=server.port)
    with pytest.raises(OSError, match=r"(?i)in use"):
        await clash.start()
    assert not clash.running


def _settings(**env: str):
    return load_settings(env, require_discord=False)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"METRICS_PORT": "9464"}, "http://127.0.0.1:9464"),
        ({"METRICS_PORT": "9464", "METRICS_HOST": "0.0.0.0"}, "http://0.0.0.0:9464"),
    ],
)
async def test_the_server_follows_the_settings(
    env: dict[str, str], expected: str | None, metrics: Metrics, engine: StandInEngine
) -> None:
    connected: Callable[[], bool] = lambda: True  # noqa: E731
    server = metrics_server_for(_settings(**env), metrics, pool=engine.pool, gateway_connected=connected)
    assert (server.url if server else None) == expected
