"""Races the polite tests never provoke, provoked on purpose: a fake's answer or a database statement is
held at an exact moment, or made to fail, and the engine must still do exactly one right thing."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import sqlite3
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from bot.errors import JobError, LimitReached, NoCapableBackend, QueueFull
from bot.jobmodel.states import JobState
from bot.jobs.engine import EngineLimits
from bot.jobs.planning import Attachment, JobRequest
from bot.moderation.limits import Limits
from bot.supervisor import LoopState
from tests.e2e.harness import png, workflows_copy
from tests.integration.db_faults import DbFaults, moving_to, statement
from tests.integration.engine_harness import Harness, build_harness

GUILD = 5


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as s:
        yield s


async def _harness(
    stack: AsyncExitStack, tmp_path: Path, fakes: list[Any], **kw: Any
) -> tuple[Harness, DbFaults]:
    installed: list[DbFaults] = []
    h = await build_harness(
        stack,
        tmp_path / "data",
        [f.base_url for f in fakes],
        before_start=lambda db: installed.append(DbFaults.install(db)),
        **kw,
    )
    await h.wait_healthy()
    return h, installed[0]


def request(user: int = 1, *, limits: Limits | None = None, **values: Any) -> JobRequest:
    values.setdefault("prompt", f"a picture for user {user}")
    return JobRequest(
        user_id=user, channel_id=10, guild_id=GUILD, template="imagine", values=values, limits=limits
    )


async def eventually(check: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.005)


def collect(h: Harness) -> list[Any]:
    """Every update the engine publishes from now on, in order."""
    seen: list[Any] = []
    original = h.engine.updates.publish

    def publish(update: Any) -> None:
        seen.append(update)
        original(update)

    h.engine.updates.publish = publish  # type: ignore[method-assign]
    return seen


def ran_to_success(fake: Any, prompt_id: str | None) -> bool:
    return any(e.prompt_id == prompt_id and e.outcome == "success" for e in fake.executions)


# --- limits under concurrent submits --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "rule"),
    [
        (Limits(max_queued=1), "queue_limit"),
        (Limits(cooldown_seconds=60), "cooldown"),
        (Limits(daily_jobs=1), "daily_jobs"),
    ],
)
async def test_concurrent_submits_never_exceed_a_member_limit(
    fake_comfy, stack, tmp_path, limits: Limits, rule: str
) -> None:
    fake_comfy.step_delay = 0.5  # the first job stays open while the others arrive
    h, _ = await _harness(stack, tmp_path, [fake_comfy])
    results = await asyncio.gather(
        *(h.engine.submit(request(limits=limits)) for _ in range(5)), return_exceptions=True
    )
    accepted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, LimitReached)]
    assert len(accepted) == 1, results
    assert len(refused) == 4
    assert {r.rule for r in refused} == {rule}
    usage = await h.engine.quotas.get_usage(GUILD, 1, dt.datetime.now(dt.UTC).date())
    assert usage.jobs == 1  # charged once, in the job's own transaction


async def test_concurrent_submits_never_exceed_the_engine_limits(fake_comfy, stack, tmp_path) -> None:
    fake_comfy.step_delay = 0.5
    limits = EngineLimits(max_queued_per_user=2, max_queued_total=3, reconnect_grace=2.0)
    h, _ = await _harness(stack, tmp_path, [fake_comfy], limits=limits)
    mine = await asyncio.gather(*(h.engine.submit(request(1)) for _ in range(5)), return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in mine) == 2
    others = await asyncio.gather(
        *(h.engine.submit(request(u)) for u in (2, 3, 4, 5)), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in others) == 1
    assert all(isinstance(r, QueueFull) for r in [*mine, *others] if isinstance(r, BaseException))
    assert await h.engine.jobs.count_waiting() == 3


def img2img(user: int = 1) -> JobRequest:
    return JobRequest(
        user_id=user,
        channel_id=10,
        guild_id=GUILD,
        template="img2img",
        values={"prompt": "x"},
        attachments=[Attachment("image", "a.png", png())],
    )


async def test_a_failed_charge_stores_nothing_and_leaves_no_files(fake_comfy, stack, tmp_path) -> None:
    h, faults = await _harness(stack, tmp_path, [fake_comfy])
    faults.fail(statement("INSERT INTO quota_usage"))
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        await h.engine.submit(img2img())
    assert await h.engine.jobs.count_waiting() == 0  # the job row went with the failed charge
    assert (await h.engine.quotas.get_usage(GUILD, 1, dt.datetime.now(dt.UTC).date())).jobs == 0
    assert [p for p in h.engine.spool.root.rglob("*") if p.is_file()] == []
    # The engine keeps serving.
    assert (await h.wait_state((await h.engine.submit(img2img())).id, JobState.DELIVERED)).attempts == 1


async def test_the_same_request_twice_at_once_makes_one_job_and_one_charge(
    fake_comfy, stack, tmp_path
) -> None:
    h, _ = await _harness(stack, tmp_path, [fake_comfy])
    twice = [dataclasses.replace(request(), request_id="interaction-1") for _ in range(2)]
    first, second = await asyncio.gather(*(h.engine.submit(r) for r in twice))
    assert first.id == second.id
    assert (await h.engine.quotas.get_usage(GUILD, 1, dt.datetime.now(dt.UTC).date())).jobs == 1


# --- cancel at every point of dispatch ------------------------------------------------------------------


async def test_cancel_while_the_input_uploads_sends_no_prompt(fake_comfy, stack, tmp_path) -> None:
    h, _ = await _harness(stack, tmp_path, [fake_comfy])
    upload = fake_comfy.hold("POST", "/upload/image")
    job = await h.engine.submit(img2img())
    await upload.arrived.wait()
    cancelled = await h.engine.cancel(job.id, by_user=1)
    upload.release()
    assert cancelled.state is JobState.CANCELLED
    await fake_comfy.wait_idle()
    assert fake_comfy.prompt_requests == []


async def test_cancel_between_upload_and_post_sends_no_prompt(fake_comfy, stack, tmp_path) -> None:
    h, _ = await _harness(stack, tmp_path, [fake_comfy])
    upload = fake_comfy.hold("POST", "/upload/image", after=True)  # stored, answer held back
    job = await h.engine.submit(img2img())
    await upload.handled.wait()
    cancelled = await h.engine.cancel(job.id, by_user=1)
    upload.release()
    assert cancelled.state is JobState.CANCELLED
    await fake_comfy.wait_idle()
    assert fake_comfy.prompt_requests == []


async def test_cancel_during_post_prompt_stops_the_prompt_that_landed(fake_comfy, stack, tmp_path) -> None:
    fake_comfy.step_delay = 0.05
    h, _ = await _harness(stack, tmp_path, [fake_comfy])
    post = fake_comfy.hold("POST", "/prompt")  # on the wire, not yet handled
    job = await h.engine.submit(request())
    await post.arrived.wait()
    cancel = asyncio.create_task(h.engine.cancel(job.id, by_user=1))
    # The cancel is stored at once, and waits for the POST on the wire before it stops anything.
    stored = await h.wait_state(job.id, JobState.CANCELLED)
    assert not cancel.done()
    post.release()
    assert (await cancel).state is JobState.CANCELLED
    await fake_comfy.wait_idle()
    assert len(fake_comfy.prompt_requests) == 1  # it did land, and was then deleted or interrupted
    assert not ran_to_success(fake_comfy, stored.prompt_id)


async def test_cancel_while_waiting_inside_comfyui_deletes_it_there(fake_comfy, stack, tmp_path) -> None:
    fake_comfy.step_delay = 0.1
    h, _ = await _harness(stack, tmp_path, [fake_comfy], capacity=2)
    first = await h.engine.submit(request(1))
    second = await h.engine.submit(request(2))
    await h.wait_state(first.id, JobState.RUNNING)
    waiting = await h.wait_state(second.id, JobState.DISPATCHED)
    await eventually(lambda: fake_comfy.queue_remaining == 2)
    await h.engine.cancel(second.id, by_user=2)
    assert fake_comfy.queue_remaining == 1
    await fake_comfy.wait_idle()
    assert waiting.prompt_id not in {e.prompt_id for e in fake_comfy.executions}


async def test_cancel_while_running_interrupts_it(fake_comfy, stack, tmp_path) -> None:
    fake_comfy.step_delay = 0.2
    h, _ = await _harness(stack, tmp_path, [fake_comfy])
    job = await h.engine.submit(request())
    running = await h.wait_state(job.id, JobState.RUNNING)
    await h.engine.cancel(job.id, by_user=1)
    await fake_comfy.wait_idle()
    assert [e.outcome for e in fake_comfy.executions if e.prompt_id == running.prompt_id] == ["interrupted"]
    assert job.id not in h.sink.results


async def test_a_cancel_that_meets_the_dispatch_write_wins_cleanly(fake_comfy, stack, tmp_path) -> None:
    """The dispatcher's QUEUED -> DISPATCHED write is held; a cancel arrives meanwhile; exactly one wins
    and nothing runs against a cancelled job."""
    h, faults = await _harness(stack, tmp_path, [fake_comfy])
    dispatch = faults.hold(moving_to("dispatched"))
    job = await h.engine.submit(request())
    await dispatch.arrived.wait()
    cancel = asyncio.create_task(h.engine.cancel(job.id, by_user=1))
    dispatch.release()
    # The cancel's transaction waited for the dispatch to commit, read DISPATCHED, and stopped that run.
    assert (await cancel).state is JobState.CANCELLED
    final = await h.engine.jobs.require(job.id)
    await fake_comfy.wait_idle()
    assert not ran_to_success(fake_comfy, final.prompt_id)
    assert job.id not in h.sink.results


async def test_a_cancel_after_the_server_finished_is_refused(fake_comfy, stack, tmp_path) -> None:
    saving = workflows_copy(
        tmp_path / "workflows",
        lambda name, text: (
            text.replace("websocket = true", "websocket = false") if name == "img2img.toml" else text
        ),
    )
    h, _ = await _harness(stack, tmp_path, [fake_comfy], workflows=saving)
    view = fake_comfy.hold("GET", "/view")  # img2img now saves files: fetched after the success
    job = await h.engine.submit(img2img())
    await view.arrived.wait()  # ComfyUI reported success; the engine is collecting the images
    with pytest.raises(JobError, match="already finished"):
        await h.engine.cancel(job.id, by_user=1)
    view.release()
    assert (await h.wait_state(job.id, JobState.DELIVERED)).state is JobState.DELIVERED


# --- database errors in the background loops --------------------------------------------------------------


async def test_a_database_error_in_the_dispatcher_is_survived(fake_comfy, stack, tmp_path) -> None:
    h, faults = await _harness(stack, tmp_path, [fake_comfy])
    faults.fail(moving_to("dispatched"))
    job = await h.engine.submit(request())
    done = await h.wait_state(job.id, JobState.DELIVERED)
    assert done.attempts == 1
    health = h.engine.supervisor.health["dispatcher"]
    assert health.restarts == 1
    assert health.state is LoopState.RUNNING
    assert "OperationalError" in (health.last_error or "")


async def test_a_database_error_storing_the_result_is_retried(fake_comfy, stack, tmp_path) -> None:
    h, faults = await _harness(stack, tmp_path, [fake_comfy])
    faults.fail(moving_to("succeeded"), times=2)
    job = await h.engine.submit(request())
    done = await h.wait_state(job.id, JobState.DELIVERED)
    assert done.attempts == 1  # not run again: the outcome was kept and stored on the third try
    assert h.sink.calls.count(("result", job.id)) == 1


async def test_a_database_error_storing_a_failure_is_retried(fake_comfy, stack, tmp_path) -> None:
    fake_comfy.fail_node("VAEDecode", "RuntimeError", "boom")
    h, faults = await _harness(stack, tmp_path, [fake_comfy])
    faults.fail(moving_to("failed"))
    job = await h.engine.submit(request())
    failed = await h.wait_state(job.id, JobState.FAILED)
    assert "boom" in (failed.failure_reason or "")
    await eventually(lambda: job.id in h.sink.notices)


async def test_a_database_error_recording_a_delivery_is_retried_without_a_second_post(
    fake_comfy, stack, tmp_path
) -> None:
    h, faults = await _harness(stack, tmp_path, [fake_comfy])
    faults.fail(moving_to("delivered"))
    job = await h.engine.submit(request())
    await h.wait_state(job.id, JobState.DELIVERED)
    # The sink was asked again (its post is idempotent), and the result is recorded once.
    assert h.sink.calls.count(("result", job.id)) == 2
    assert len(await h.engine.deliveries.list_for_job(job.id)) == 1


async def test_a_delivery_recorded_before_a_crash_is_not_posted_again(fake_comfy, stack, tmp_path) -> None:
    data = tmp_path / "data"
    first = AsyncExitStack()
    faults_box: list[DbFaults] = []
    h1 = await build_harness(
        first, data, [fake_comfy.base_url], before_start=lambda db: faults_box.append(DbFaults.install(db))
    )
    await h1.wait_healthy()
    hold = faults_box[0].hold(moving_to("delivered"))
    job = await h1.submit()
    await hold.arrived.wait()  # posted and recorded? no: the record is in the held transaction
    await first.aclose()
    h2 = await build_harness(stack, data, [fake_comfy.base_url])
    await h2.wait_state(job.id, JobState.DELIVERED)
    assert h2.sink.calls.count(("result", job.id)) == 1  # the process died before recording it
    assert len(await h2.engine.deliveries.list_for_job(job.id)) == 1


async def test_a_loop_that_keeps_crashing_stops_the_process(fake_comfy, stack, tmp_path) -> None:
    fatal: list[str] = []
    h, faults = await _harness(stack, tmp_path, [fake_comfy], on_fatal=fatal.append)
    faults.fail(moving_to("dispatched"), times=100)
    await h.engine.submit(request())
    await eventually(lambda: bool(fatal))
    assert "dispatcher" in fatal[0]
    assert h.engine.supervisor.health["dispatcher"].state is LoopState.FAILED
    assert any("dispatcher is failed" in p for p in h.engine.problems())


# --- lost backends, and templates no backend can run -------------------------------------------------------


async def test_a_dead_backend_hands_its_job_over_at_once(fake_comfy_factory, stack, tmp_path) -> None:
    slow = await fake_comfy_factory(step_delay=0.1)
    spare = await fake_comfy_factory(step_delay=0.0)
    limits = EngineLimits(reconnect_grace=60.0)  # waiting out the grace would fail the deadline below
    h, _ = await _harness(stack, tmp_path, [slow, spare], capacity=1, limits=limits)
    spare_backend = h.pool.backends[1]
    spare_backend.in_flight.add("placeholder")  # the job lands on the slow one first
    seen = collect(h)
    job = await h.engine.submit(request())
    await h.wait_state(job.id, JobState.RUNNING)
    spare_backend.in_flight.discard("placeholder")
    await slow.stop()
    done = await h.wait_state(job.id, JobState.DELIVERED, timeout=10)
    assert done.attempts == 2
    assert done.backend == spare_backend.name
    # From the moment it was queued again until it ended, its status said why it started over.
    moved = [u for u in seen if u.job.attempts == 2 or (u.state is JobState.QUEUED and u.job.notice)]
    assert moved
    assert all("stopped answering" in (u.job.notice or "") for u in moved if not u.is_final)
    assert done.notice is None  # what was said on the way is gone once it is done


async def test_a_template_no_backend_can_run_is_refused_at_submit(fake_comfy, stack, tmp_path) -> None:
    folder = workflows_copy(tmp_path / "workflows")
    graph = (folder / "invert.json").read_text().replace('"ImageInvert"', '"FancyInvertFromACustomNode"')
    (folder / "invert.json").write_text(graph)
    h, _ = await _harness(stack, tmp_path, [fake_comfy], workflows=folder)
    invert = JobRequest(
        user_id=1,
        channel_id=10,
        guild_id=GUILD,
        template="invert",
        values={},
        attachments=[Attachment("image", "a.png", png())],
    )
    with pytest.raises(NoCapableBackend) as info:
        await h.engine.submit(invert)
    assert "FancyInvertFromACustomNode" in info.value.user_message
    assert "nothing was queued" in info.value.user_message
    assert await h.engine.jobs.count_waiting() == 0
    assert (await h.engine.quotas.get_usage(GUILD, 1, dt.datetime.now(dt.UTC).date())).jobs == 0
    # Templates the backend can run are unaffected.
    assert (await h.wait_state((await h.engine.submit(request())).id, JobState.DELIVERED)).attempts == 1


async def test_a_job_no_working_backend_can_run_ends_after_the_limit(stack, tmp_path) -> None:
    now = [1_000_000.0]
    limits = EngineLimits(max_blocked_wait=600.0)
    h = await build_harness(
        stack, tmp_path / "data", ["http://127.0.0.1:9"], limits=limits, clock=lambda: now[0]
    )
    job = await h.submit()
    assert await h.engine.expire_blocked() == []
    now[0] += 599
    assert await h.engine.expire_blocked() == []
    now[0] += 2
    assert await h.engine.expire_blocked() == [job.id]
    failed = await h.engine.jobs.require(job.id)
    assert failed.state is JobState.FAILED
    assert "for 10 minute(s)" in (failed.failure_reason or "")
    assert job.id not in h.engine.scheduler
    await eventually(lambda: job.id in h.sink.notices)


# --- ordered updates ------------------------------------------------------------------------------------


async def test_progress_never_arrives_before_the_running_state(fake_comfy, stack, tmp_path) -> None:
    """A slow RUNNING commit used to be published after the run's first progress, so the CLI showed
    "33% SlowSteps" and then "0% waiting on host"."""
    fake_comfy.step_delay = 0.01
    h, faults = await _harness(stack, tmp_path, [fake_comfy])
    running = faults.hold(moving_to("running"))
    seen = collect(h)
    job = await h.engine.submit(request())
    await running.arrived.wait()
    await eventually(lambda: fake_comfy.executions and fake_comfy.executions[-1].ended_at is not None)
    running.release()  # the whole run happened on the server meanwhile
    await h.wait_state(job.id, JobState.DELIVERED)
    mine = [u for u in seen if u.job.id == job.id]
    order = [JobState.QUEUED, JobState.DISPATCHED, JobState.RUNNING, JobState.SUCCEEDED, JobState.DELIVERED]
    states = [order.index(u.state) for u in mine]
    assert states == sorted(states)
    progress = [u for u in mine if u.node is not None]
    assert progress
    assert all(u.state is JobState.RUNNING for u in progress)
    fractions = [u.overall for u in progress if u.overall is not None]
    assert fractions == sorted(fractions)
    assert [u.seq for u in mine if u.seq] == sorted(u.seq for u in mine if u.seq)


async def test_a_mailbox_drops_an_update_older_than_one_it_has(fake_comfy, stack, tmp_path) -> None:
    from bot.jobs.updates import JobUpdate, Mailbox

    h, _ = await _harness(stack, tmp_path, [fake_comfy])
    job = await h.engine.submit(request())
    box = Mailbox()
    box.put(JobUpdate(job=job, seq=7, node="KSampler", overall=0.5))
    box.put(JobUpdate(job=job, seq=6, overall=0.0))  # produced earlier, arrived later
    assert [(u.seq, u.node) for u in box.drain()] == [(7, "KSampler")]
    assert box.stale == 1


async def test_a_cancel_asks_the_server_before_calling_a_finished_run_cancelled(
    fake_comfy, stack, tmp_path
) -> None:
    """The engine's view lags the server (here: its RUNNING write waits for the database while the whole
    prompt runs). A cancel then must not report "cancelled" for a prompt that ran to success: it asks."""
    h, faults = await _harness(stack, tmp_path, [fake_comfy])
    running = faults.hold(moving_to("running"))
    job = await h.engine.submit(request())
    await running.arrived.wait()
    await eventually(lambda: any(e.outcome == "success" for e in fake_comfy.executions))
    cancel = asyncio.create_task(h.engine.cancel(job.id, by_user=1))
    with pytest.raises(JobError, match="had already finished"):
        await asyncio.wait_for(asyncio.shield(cancel), 5)
    running.release()
    assert (await h.wait_state(job.id, JobState.DELIVERED)).state is JobState.DELIVERED


async def test_a_cancel_of_an_executing_prompt_waits_for_the_interrupt_to_land(
    fake_comfy, stack, tmp_path
) -> None:
    fake_comfy.step_delay = 0.05
    h, _ = await _harness(stack, tmp_path, [fake_comfy])
    job = await h.engine.submit(request(steps=40))
    running = await h.wait_state(job.id, JobState.RUNNING)
    cancelled = await h.engine.cancel(job.id, by_user=1)
    assert cancelled.state is JobState.CANCELLED
    # By the time the cancel answered, the server had reported the interruption.
    assert [e.outcome for e in fake_comfy.executions if e.prompt_id == running.prompt_id] == ["interrupted"]
