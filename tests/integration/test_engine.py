"""The job engine end to end: real SQLite, real ComfyUI client, fake ComfyUI backends with faults."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.errors import InvalidParameter, JobNotFound, QueueFull
from bot.jobmodel.states import IllegalTransition, JobState
from bot.jobs.engine import EngineLimits
from bot.jobs.planning import Attachment, JobRequest
from tests.integration.engine_harness import Harness, build_harness


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as s:
        yield s


async def _harness(stack: AsyncExitStack, tmp_path: Path, fakes: list[Any], **kw: Any) -> Harness:
    h = await build_harness(stack, tmp_path / "data", [f.base_url for f in fakes], **kw)
    await h.wait_healthy()
    return h


async def test_text_to_image_is_delivered_once(fake_comfy, stack, tmp_path) -> None:
    h = await _harness(stack, tmp_path, [fake_comfy])
    job = await h.submit(prompt="a lighthouse at dusk", seed=42)
    done = await h.wait_state(job.id, JobState.DELIVERED)
    assert done.params["seed"] == 42
    outputs = h.sink.results[job.id]
    assert outputs
    assert outputs[0].mime == "image/png"
    assert outputs[0].path.read_bytes().startswith(b"\x89PNG")
    assert h.sink.calls.count(("result", job.id)) == 1
    # The prompt arrived byte for byte in the graph that ComfyUI received.
    graph = fake_comfy.prompt_requests[-1]["prompt"]
    assert "a lighthouse at dusk" in [n["inputs"].get("text") for n in graph.values()]


async def test_bad_values_are_refused_before_anything_is_stored(fake_comfy, stack, tmp_path) -> None:
    h = await _harness(stack, tmp_path, [fake_comfy])
    with pytest.raises(InvalidParameter) as info:
        await h.submit(steps=10_000)
    assert info.value.param == "steps"
    with pytest.raises(InvalidParameter):
        await h.submit(template="nope")
    assert await h.engine.jobs.count_waiting() == 0


async def test_per_user_limit(fake_comfy, stack, tmp_path) -> None:
    fake_comfy.step_delay = 0.2
    h = await _harness(stack, tmp_path, [fake_comfy], limits=EngineLimits(max_queued_per_user=2))
    await h.submit(user=1)
    await h.submit(user=1)
    with pytest.raises(QueueFull, match="limit is 2"):
        await h.submit(user=1)
    await h.submit(user=2)  # others are not affected


async def test_execution_error_fails_with_node_and_notifies(fake_comfy, stack, tmp_path) -> None:
    fake_comfy.fail_node("VAEDecode", "RuntimeError", "out of memory on the fake GPU")
    h = await _harness(stack, tmp_path, [fake_comfy])
    job = await h.submit()
    failed = await h.wait_state(job.id, JobState.FAILED)
    assert "VAEDecode" in (failed.failure_reason or "")
    assert "out of memory" in (failed.failure_reason or "")
    for _ in range(100):
        if job.id in h.sink.notices:
            break
        await asyncio.sleep(0.01)
    assert h.sink.notices[job.id].state is JobState.FAILED
    assert await h.engine.deliveries.was_delivered(job.id, "status")


async def test_prompt_500_is_retried_as_a_new_dispatch(fake_comfy, stack, tmp_path) -> None:
    fake_comfy.fail_next_prompts = 1
    h = await _harness(stack, tmp_path, [fake_comfy])
    job = await h.submit()
    done = await h.wait_state(job.id, JobState.DELIVERED)
    assert done.attempts == 2


async def test_backend_killed_mid_job_moves_to_another(fake_comfy_factory, stack, tmp_path) -> None:
    slow = await fake_comfy_factory(step_delay=0.05)
    spare = await fake_comfy_factory(step_delay=0.0)
    h = await _harness(stack, tmp_path, [slow, spare], capacity=1)
    # Make the spare look busy so the job lands on the slow one first.
    spare_backend = h.pool.backends[1]
    spare_backend.in_flight.add("placeholder")
    job = await h.submit()
    await h.wait_state(job.id, JobState.RUNNING)
    spare_backend.in_flight.discard("placeholder")
    await slow.stop()
    done = await h.wait_state(job.id, JobState.DELIVERED, timeout=15)
    assert done.attempts == 2
    assert done.backend == h.pool.backends[1].name


async def test_websocket_drop_mid_run_still_delivers(fake_comfy, stack, tmp_path) -> None:
    fake_comfy.step_delay = 0.03
    h = await _harness(stack, tmp_path, [fake_comfy])
    job = await h.submit()
    await h.wait_state(job.id, JobState.RUNNING)
    await asyncio.sleep(0.1)
    await fake_comfy.drop_websockets()
    done = await h.wait_state(job.id, JobState.DELIVERED, timeout=15)
    # Frames sent while the socket was down are gone; the engine ran it again if it had to.
    assert done.attempts in (1, 2)
    assert h.sink.calls.count(("result", job.id)) == 1


async def test_backend_restart_with_history_gone_reruns_same_seed(fake_comfy, stack, tmp_path) -> None:
    fake_comfy.step_delay = 0.05
    h = await _harness(stack, tmp_path, [fake_comfy])
    job = await h.submit(seed=1234)
    await h.wait_state(job.id, JobState.RUNNING)
    await fake_comfy.restart(keep_history=False)
    fake_comfy.step_delay = 0.0
    done = await h.wait_state(job.id, JobState.DELIVERED, timeout=15)
    assert done.attempts == 2
    seeds = {n["inputs"].get("seed") for body in fake_comfy.prompt_requests for n in body["prompt"].values()}
    assert 1234 in seeds


async def test_time_limit_interrupts_and_fails(fake_comfy, stack, tmp_path) -> None:
    fake_comfy.step_delay = 0.2
    h = await _harness(stack, tmp_path, [fake_comfy], limits=EngineLimits(max_runtime=0.3))
    job = await h.submit()
    failed = await h.wait_state(job.id, JobState.FAILED, timeout=10)
    assert "limit" in (failed.failure_reason or "")
    await fake_comfy.wait_idle()
    assert fake_comfy.executions[-1].outcome == "interrupted"


async def _cancel_in(h: Harness, job_id: str) -> None:
    cancelled = await h.engine.cancel(job_id, by_user=1)
    assert cancelled.state is JobState.CANCELLED


async def test_cancel_queued_when_no_backend_is_up(stack, tmp_path) -> None:
    h = await build_harness(stack, tmp_path / "data", ["http://127.0.0.1:9"])
    job = await h.submit()
    assert h.engine.pool.why_waiting("imagine") is not None
    await _cancel_in(h, job.id)
    assert job.id not in h.engine.scheduler


async def test_cancel_pending_inside_comfyui_and_running_touches_only_its_own(
    fake_comfy, stack, tmp_path
) -> None:
    fake_comfy.step_delay = 0.1
    h = await _harness(stack, tmp_path, [fake_comfy], capacity=2)
    first = await h.submit(user=1)
    second = await h.submit(user=2)
    await h.wait_state(first.id, JobState.RUNNING)
    await h.wait_state(second.id, JobState.DISPATCHED)
    # The second waits inside ComfyUI's queue: cancelling deletes it there.
    cancelled = await h.engine.cancel(second.id, by_user=2)
    assert cancelled.state is JobState.CANCELLED
    assert fake_comfy.queue_info()["exec_info"]["queue_remaining"] == 1
    # A different member cannot cancel the first; its owner can, by prompt_id.
    with pytest.raises(JobNotFound) as info:
        await h.engine.cancel(first.id, by_user=2)
    assert "no job" in info.value.user_message
    running = await h.engine.jobs.require(first.id)
    third = await h.submit(user=3)
    await _cancel_in(h, first.id)
    await fake_comfy.wait_idle(timeout=10)
    outcomes = {e.prompt_id: e.outcome for e in fake_comfy.executions}
    assert outcomes[running.prompt_id] == "interrupted"
    assert (await h.wait_state(third.id, JobState.DELIVERED)).state is JobState.DELIVERED


async def test_restart_recovers_queue_and_in_flight(fake_comfy, stack, tmp_path) -> None:
    fake_comfy.step_delay = 0.05
    data = tmp_path / "data"
    first_stack = AsyncExitStack()
    h1 = await build_harness(first_stack, data, [fake_comfy.base_url], client_ids=["stable-id"], capacity=1)
    await h1.wait_healthy()
    jobs = [await h1.submit(user=u) for u in (1, 2, 3)]
    await h1.wait_state(jobs[0].id, JobState.RUNNING)
    await first_stack.aclose()  # the bot stops with one running, two queued
    h2 = await build_harness(stack, data, [fake_comfy.base_url], client_ids=["stable-id"], capacity=1)
    fake_comfy.step_delay = 0.0
    for job in jobs:
        await h2.wait_state(job.id, JobState.DELIVERED, timeout=15)
    assert sorted(h2.sink.results) == sorted(j.id for j in jobs)


async def test_idle_backend_takes_a_job_still_waiting_inside_a_busy_one(
    fake_comfy_factory, stack, tmp_path
) -> None:
    busy_fake = await fake_comfy_factory(step_delay=0.05)
    idle_fake = await fake_comfy_factory(step_delay=0.0)
    h = await _harness(stack, tmp_path, [busy_fake, idle_fake], capacity=2)
    idle = h.pool.backends[1]
    idle.in_flight.add("placeholder")  # looks busy while both jobs are routed to the first backend
    first = await h.submit(user=1)
    second = await h.submit(user=2)
    await h.wait_state(first.id, JobState.RUNNING)
    waiting = await h.wait_state(second.id, JobState.DISPATCHED)
    assert waiting.backend == h.pool.backends[0].name
    idle.in_flight.discard("placeholder")
    h.pool.notify()
    moved = await h.wait_state(second.id, JobState.DELIVERED)
    assert moved.backend == idle.name
    assert moved.attempts == 1, "a move is not counted as a failed attempt"
    await busy_fake.wait_idle()
    assert waiting.prompt_id not in {e.prompt_id for e in busy_fake.executions}, (
        "it never ran on the busy one"
    )


async def test_slow_uploads_do_not_count_against_the_run_time_limit(fake_comfy, stack, tmp_path) -> None:
    fake_comfy.upload_delay = 0.4
    h = await _harness(stack, tmp_path, [fake_comfy], limits=EngineLimits(max_runtime=0.3))
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(out, format="PNG")
    job = await h.engine.submit(
        JobRequest(
            user_id=1,
            channel_id=1,
            template="invert",
            values={},
            attachments=[Attachment("image", "x.png", out.getvalue())],
        )
    )
    done = await h.wait_state(job.id, JobState.DELIVERED)
    assert done.attempts == 1


async def test_review_lane_approve_reject_cancel(fake_comfy, stack, tmp_path) -> None:
    h = await _harness(stack, tmp_path, [fake_comfy])

    async def held() -> Any:
        return await h.engine.submit(
            JobRequest(user_id=1, channel_id=1, template="imagine", values={"prompt": "p"}, needs_review=True)
        )

    approved, rejected, cancelled = await held(), await held(), await held()
    assert approved.state is JobState.PENDING_REVIEW
    assert approved.id not in h.engine.scheduler  # nothing runs before a moderator decides
    await h.engine.approve(approved.id)
    await h.engine.reject(rejected.id, "not on this server")
    await h.engine.cancel(cancelled.id, by_user=1)
    assert (await h.wait_state(approved.id, JobState.DELIVERED)).state is JobState.DELIVERED
    assert (await h.engine.jobs.require(rejected.id)).failure_reason == "not on this server"
    for _ in range(200):
        if {rejected.id, cancelled.id} <= set(h.sink.notices):
            break
        await asyncio.sleep(0.01)
    assert {rejected.id, cancelled.id} <= set(h.sink.notices)
    with pytest.raises(IllegalTransition):
        await h.engine.approve(rejected.id)  # a second decision loses


async def test_jobs_go_only_to_backends_offering_their_checkpoint(
    fake_comfy_factory, stack, tmp_path
) -> None:
    plain = await fake_comfy_factory(checkpoints=["v1-5-pruned-emaonly.safetensors"])
    rich = await fake_comfy_factory(checkpoints=["v1-5-pruned-emaonly.safetensors", "dreamy.safetensors"])
    h = await _harness(stack, tmp_path, [plain, rich])
    with pytest.raises(InvalidParameter) as info:
        await h.submit(checkpoint="nowhere.safetensors")
    assert info.value.param == "checkpoint"
    assert "dreamy.safetensors" in info.value.user_message
    jobs = [await h.submit(user=u, checkpoint="dreamy.safetensors") for u in range(4)]
    for job in jobs:
        done = await h.wait_state(job.id, JobState.DELIVERED)
        assert done.backend == h.pool.backends[1].name


async def test_the_same_request_submitted_twice_makes_one_job(fake_comfy, stack, tmp_path) -> None:
    h = await _harness(stack, tmp_path, [fake_comfy])
    request = JobRequest(
        user_id=1, channel_id=1, template="imagine", values={"prompt": "once"}, request_id="i-1"
    )
    first = await h.engine.submit(request)
    again = await h.engine.submit(request)
    assert again.id == first.id
    assert len(await h.engine.jobs.list_by_user(1)) == 1


async def test_an_unexpected_crash_fails_the_job_with_a_reference(
    fake_comfy, stack, tmp_path, monkeypatch, caplog
) -> None:
    h = await _harness(stack, tmp_path, [fake_comfy])

    async def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(h.engine._runner, "run", explode)
    job = await h.submit()
    failed = await h.wait_state(job.id, JobState.FAILED)
    assert "reference `" in (failed.failure_reason or "")
    reference = (failed.failure_reason or "").split("`")[1]
    assert any(reference in r.getMessage() for r in caplog.records), "the same reference is in the log"
    assert "tried several times" not in (failed.failure_reason or "")
