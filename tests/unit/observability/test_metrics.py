"""Metrics: live queue/backend state at scrape time, finished jobs from the update stream, counters."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families

from bot.jobs import JobState
from bot.jobs.updates import UpdateHub
from bot.observability import Metrics
from tests.unit.observability.standins import StandInBackend, StandInEngine, queue, update

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(metrics: Metrics) -> Samples:
    """Every sample of the text exposition, by (name, labels)."""
    text = metrics.exposition().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


async def until(condition: Callable[[], bool]) -> None:
    """Let the event loop run until ``condition`` holds (no sleeping on a clock)."""
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")


# --- scrape-time state ------------------------------------------------------------------------------


async def test_queue_depth_per_lane_and_backend_state_are_read_at_scrape_time(
    metrics: Metrics, engine: StandInEngine
) -> None:
    metrics.track(engine.scheduler, engine.pool)
    queue(engine.scheduler, "a", user=1)
    queue(engine.scheduler, "b", user=2)
    queue(engine.scheduler, "c", lane="priority")

    found = samples(metrics)
    assert value(found, "comfycord_queue_depth", lane="default") == 2
    assert value(found, "comfycord_queue_depth", lane="priority") == 1
    assert value(found, "comfycord_backend_healthy", backend="gpu-a:8188") == 1
    assert value(found, "comfycord_backend_healthy", backend="gpu-b:8188") == 0
    assert value(found, "comfycord_backend_in_flight", backend="gpu-a:8188") == 2
    assert value(found, "comfycord_backend_in_flight", backend="gpu-b:8188") == 0
    assert value(found, "comfycord_backend_capacity", backend="gpu-a:8188") == 2
    # Series stay keyed by address (stable across renames); the info series gives the member-facing name.
    assert value(found, "comfycord_backend_info", backend="gpu-a:8188", display_name="Big GPU") == 1
    assert value(found, "comfycord_backend_info", backend="gpu-b:8188", display_name="Laptop") == 1

    # The next scrape sees the change: nothing is cached between scrapes.
    engine.scheduler.remove("c")
    engine.pool.backends[1].healthy = True
    engine.pool.backends.append(StandInBackend("gpu-c:8188", capacity=4))
    found = samples(metrics)
    assert value(found, "comfycord_queue_depth", lane="priority") == 0  # seen once: still reported
    assert value(found, "comfycord_backend_healthy", backend="gpu-b:8188") == 1
    assert value(found, "comfycord_backend_capacity", backend="gpu-c:8188") == 4


async def test_the_default_lane_is_reported_while_empty(metrics: Metrics, engine: StandInEngine) -> None:
    metrics.track(engine.scheduler, engine.pool)
    assert value(samples(metrics), "comfycord_queue_depth", lane="default") == 0


async def test_tracking_again_replaces_the_collector(metrics: Metrics, engine: StandInEngine) -> None:
    metrics.track(engine.scheduler, engine.pool)
    other = StandInEngine()
    metrics.track(other.scheduler, other.pool)
    found = samples(metrics)
    assert value(found, "comfycord_backend_healthy", backend="gpu-a:8188") is None


async def test_each_metrics_has_its_own_registry(engine: StandInEngine) -> None:
    first, second = Metrics(), Metrics()
    first.track(engine.scheduler, engine.pool)
    second.track(engine.scheduler, engine.pool)
    first.discord_rate_limited()
    assert value(samples(first), "comfycord_discord_rate_limited_total") == 1
    assert value(samples(second), "comfycord_discord_rate_limited_total") == 0


# --- finished jobs -----------------------------------------------------------------------------------


async def test_success_feeds_the_histograms_and_final_states_the_counter(metrics: Metrics) -> None:
    metrics.record(update("j1", JobState.RUNNING))
    metrics.record(update("j1", JobState.SUCCEEDED, wait=4.0, run=12.0))
    metrics.record(update("j1", JobState.DELIVERED, wait=4.0, run=12.0))
    metrics.record(update("j2", JobState.FAILED, template="upscale", wait=1.0, run=2.0))
    metrics.record(update("j3", JobState.CANCELLED, wait=None))
    metrics.record(update("j4", JobState.REJECTED, backend=None, wait=None))

    found = samples(metrics)
    labels = {"template": "imagine", "backend": "gpu-a:8188"}
    assert value(found, "comfycord_job_wait_seconds_count", **labels) == 1
    assert value(found, "comfycord_job_wait_seconds_sum", **labels) == 4.0
    assert value(found, "comfycord_job_wait_seconds_bucket", le="5.0", **labels) == 1
    assert value(found, "comfycord_job_wait_seconds_bucket", le="2.0", **labels) == 0
    assert value(found, "comfycord_job_run_seconds_count", **labels) == 1
    assert value(found, "comfycord_job_run_seconds_sum", **labels) == 12.0
    # Failed runs count as failures, not in the success histograms.
    assert value(found, "comfycord_job_run_seconds_count", template="upscale", backend="gpu-a:8188") is None

    assert value(found, "comfycord_jobs_finished_total", template="imagine", state="delivered") == 1
    assert value(found, "comfycord_jobs_finished_total", template="upscale", state="failed") == 1
    assert value(found, "comfycord_jobs_finished_total", template="imagine", state="cancelled") == 1
    assert value(found, "comfycord_jobs_finished_total", template="imagine", state="rejected") == 1
    # SUCCEEDED is on the way to DELIVERED: counting it too would count the job twice.
    assert value(found, "comfycord_jobs_finished_total", template="imagine", state="succeeded") is None


async def test_a_job_is_recorded_once_however_often_its_final_update_arrives(metrics: Metrics) -> None:
    for _ in range(3):
        metrics.record(update("j1", JobState.SUCCEEDED))
        metrics.record(update("j1", JobState.DELIVERED))
    found = samples(metrics)
    assert value(found, "comfycord_job_run_seconds_count", template="imagine", backend="gpu-a:8188") == 1
    assert value(found, "comfycord_jobs_finished_total", template="imagine", state="delivered") == 1


async def test_a_success_without_a_recorded_start_adds_no_timings(metrics: Metrics) -> None:
    metrics.record(update("j1", JobState.SUCCEEDED, wait=None))
    found = samples(metrics)
    assert value(found, "comfycord_job_wait_seconds_count", template="imagine", backend="gpu-a:8188") is None


async def test_the_observer_records_jobs_published_on_the_update_hub(
    metrics: Metrics, engine: StandInEngine
) -> None:
    metrics.attach(engine)  # the same call the app makes with the real JobEngine
    hub = engine.updates
    hub.publish(update("j1", JobState.QUEUED))
    hub.publish(update("j1", JobState.RUNNING))
    hub.publish(update("j1", JobState.SUCCEEDED))
    hub.publish(update("j1", JobState.DELIVERED))
    hub.publish(update("j2", JobState.FAILED))

    def recorded() -> bool:
        found = samples(metrics)
        return value(found, "comfycord_jobs_finished_total", template="imagine", state="failed") == 1

    await until(recorded)
    found = samples(metrics)
    assert value(found, "comfycord_jobs_finished_total", template="imagine", state="delivered") == 1
    assert value(found, "comfycord_job_run_seconds_count", template="imagine", backend="gpu-a:8188") == 1
    assert value(found, "comfycord_queue_depth", lane="default") == 0


async def test_close_stops_observing(metrics: Metrics) -> None:
    hub = UpdateHub()
    metrics.observe(hub)
    await metrics.close()
    hub.publish(update("j1", JobState.FAILED))
    await asyncio.sleep(0)
    assert (
        value(samples(metrics), "comfycord_jobs_finished_total", template="imagine", state="failed") is None
    )
    await metrics.close()  # twice is fine


async def test_a_bad_update_does_not_stop_the_observer(metrics: Metrics, monkeypatch) -> None:
    hub = UpdateHub()
    real_record = metrics.record
    calls = []

    def flaky(update_) -> None:
        calls.append(update_.job.id)
        if update_.job.id == "bad":
            raise ValueError("boom")
        real_record(update_)

    monkeypatch.setattr(metrics, "record", flaky)
    metrics.observe(hub)
    hub.publish(update("bad", JobState.FAILED))
    await until(lambda: calls == ["bad"])
    hub.publish(update("good", JobState.FAILED))
    await until(lambda: calls == ["bad", "good"])
    assert value(samples(metrics), "comfycord_jobs_finished_total", template="imagine", state="failed") == 1


# --- counters for the Discord layer and moderation -----------------------------------------------------


async def test_discord_and_moderation_counters(metrics: Metrics) -> None:
    metrics.discord_rate_limited()
    metrics.discord_request("edit")
    metrics.discord_request("edit")
    metrics.discord_request("followup")
    metrics.filter_outcome("block")
    metrics.filter_outcome("review")
    metrics.review_outcome("approve")

    found = samples(metrics)
    assert value(found, "comfycord_discord_rate_limited_total") == 1
    assert value(found, "comfycord_discord_requests_total", kind="edit") == 2
    assert value(found, "comfycord_discord_requests_total", kind="followup") == 1
    assert value(found, "comfycord_filter_outcomes_total", action="block") == 1
    assert value(found, "comfycord_filter_outcomes_total", action="review") == 1
    assert value(found, "comfycord_review_outcomes_total", decision="approve") == 1


async def test_exposition_names_every_metric_with_help(metrics: Metrics, engine: StandInEngine) -> None:
    metrics.track(engine.scheduler, engine.pool)
    text = metrics.exposition().decode()
    for name in (
        "comfycord_queue_depth",
        "comfycord_backend_healthy",
        "comfycord_backend_in_flight",
        "comfycord_backend_capacity",
        "comfycord_backend_info",
        "comfycord_job_wait_seconds",
        "comfycord_job_run_seconds",
        "comfycord_jobs_finished_total",
        "comfycord_discord_rate_limited_total",
        "comfycord_discord_requests_total",
        "comfycord_filter_outcomes_total",
        "comfycord_review_outcomes_total",
    ):
        assert f"# HELP {name} " in text
