"""Members never read where a backend lives, only what it is called.

The backends are configured by URL, with hosts, ports, paths and credentials (one of them even sends a
header). Every member-facing text that can name a backend is rendered from the real engine, pool and
client over fake ComfyUIs: status messages in each state (waiting reasons included), results, /queue,
/jobs, the review lane, and the reason of every ComfyError a run can end with. None may contain a host,
port, path, credential or URL; those that name a backend use its display name.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import random
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest
from PIL import Image

from bot.comfy import Endpoint
from bot.config import Settings, load_settings
from bot.discord_ui.general import jobs_text, queue_text
from bot.discord_ui.render import result_embed, status_embed
from bot.discord_ui.review import review_embed
from bot.errors import ComfyError, OutputsLost
from bot.jobmodel.model import Job
from bot.jobmodel.states import JobState
from bot.jobs.engine import EngineLimits
from bot.jobs.runner import user_reason
from bot.jobs.updates import JobUpdate
from tests.fakes.comfyui.server import FakeComfyUI
from tests.integration.engine_harness import Harness, build_harness

NAMED = "Big GPU,Laptop,Spare,Proxy box"
ORIGIN = "header:Origin:http://elsewhere.example:1"  # the fake's origin check refuses it: 403


@dataclass
class Backends:
    """Two live fakes behind four configured backends (a dead one, and one the origin check refuses)."""

    first: FakeComfyUI
    second: FakeComfyUI
    dead_port: int
    settings: Settings

    @property
    def names(self) -> list[str]:
        return [e.display_name for e in self.settings.backends]

    def fake_of(self, key: str | None) -> FakeComfyUI:
        return self.first if key == self.settings.backends[0].name else self.second

    def leaks(self, text: str) -> list[str]:
        """Every piece of a backend's whereabouts that ``text`` contains."""
        found = [
            word
            for word in (
                "127.0.0.1",
                "localhost",
                "alice",
                "s3cret-pw",
                "bob",
                "hunter2",
                "elsewhere.example",
                "/api",
                "/comfy",
                "http://",
                "https://",
                "ws://",
                "wss://",
                *(e.base_url for e in self.settings.backends),
                *(e.name for e in self.settings.backends),
            )
            if word in text
        ]
        ports = (self.first.port, self.second.port, self.dead_port)
        return found + [str(port) for port in ports if re.search(rf"\b{port}\b", text)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(params=[None, NAMED], ids=["default-names", "configured-names"])
async def backends(request: pytest.FixtureRequest, fake_comfy_factory: Any) -> Backends:
    first = await fake_comfy_factory(step_delay=0.02)
    second = await fake_comfy_factory(step_delay=0.02)
    dead_port = _free_port()
    env = {
        "COMFYUI_URLS": ",".join(
            [
                f"http://alice:s3cret-pw@127.0.0.1:{first.port}/api",
                f"http://127.0.0.1:{second.port}/",
                f"https://bob:hunter2@localhost:{dead_port}/comfy/",
                f"http://127.0.0.1:{second.port}/api",
            ]
        ),
        "COMFYUI_AUTH_4": ORIGIN,
    }
    if request.param:
        env["COMFYUI_NAMES"] = request.param
    settings = load_settings(env, require_discord=False)
    made = Backends(first, second, dead_port, settings)
    assert made.names == (request.param.split(",") if request.param else ["GPU 1", "GPU 2", "GPU 3", "GPU 4"])
    return made


@pytest.fixture
async def harness(backends: Backends, tmp_path: Path) -> AsyncIterator[Harness]:
    async with AsyncExitStack() as stack:
        yield await build_harness(
            stack,
            tmp_path / "data",
            [],
            endpoints=backends.settings.backends,
            # One attempt: every retryable error ends the job, so its reason reaches the member.
            limits=EngineLimits(max_attempts=1, reconnect_grace=1.0),
        )


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition never became true")
        await asyncio.sleep(0.01)


def _embed_text(embed: discord.Embed) -> str:
    return json.dumps(embed.to_dict(), ensure_ascii=False)


def _listed(names: Iterable[str]) -> str:
    items = list(names)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _assert_no_leaks(backends: Backends, texts: Iterable[str]) -> None:
    leaks = {text: backends.leaks(text) for text in texts if backends.leaks(text)}
    assert not leaks, leaks


class Collector:
    """Every JobUpdate the engine publishes, as the Discord publisher would receive them."""

    def __init__(self, harness: Harness) -> None:
        self.updates: list[JobUpdate] = []
        self._box = harness.engine.updates.subscribe()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.updates.extend(await self._box.get())

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


# --- waiting ---------------------------------------------------------------------------------------------


async def test_waiting_reasons_name_each_backend_and_never_its_address(
    backends: Backends, tmp_path: Path
) -> None:
    names = backends.names
    models = list(backends.first.checkpoints)
    await backends.first.stop()
    await backends.second.stop()
    async with AsyncExitStack() as stack:
        harness = await build_harness(stack, tmp_path / "data", [], endpoints=backends.settings.backends)
        collector = Collector(harness)
        stack.push_async_callback(collector.close)
        pool = harness.pool

        job = await harness.submit(seed=1, steps=2)
        nobody = f"{_listed(names)} are not answering right now; your job stays queued until one is back."
        assert pool.why_waiting("imagine") == nobody
        await _until(lambda: any(u.waiting_reason == nobody for u in collector.updates))

        # They answer, but without the model the template needs.
        for fake in (backends.first, backends.second):
            fake.checkpoints = ["other.safetensors"]
            await fake.start()
        await _until(lambda: all(b.healthy and b.object_info is not None for b in pool.backends[:2]))
        cannot = pool.why_waiting("imagine")
        assert cannot is not None
        assert cannot.startswith(f"{names[0]} and {names[1]} cannot run `imagine` right now (")
        assert cannot.endswith(f", and {names[2]} and {names[3]} are not answering; your job stays queued.")

        # The model is back (a restart makes the bot read /object_info again): the job runs.
        for fake in (backends.first, backends.second):
            fake.checkpoints = models
            await fake.restart()
        await harness.wait_state(job.id, JobState.DELIVERED)
        assert pool.why_waiting("imagine") is None

        texts = [nobody, cannot]
        for update in collector.updates:
            if update.waiting_reason:
                texts.append(update.waiting_reason)
            texts.append(
                _embed_text(status_embed(update, backend_name=pool.display_name(update.job.backend)))
            )
    _assert_no_leaks(backends, texts)


# --- status, results, lists --------------------------------------------------------------------------------


async def test_status_results_and_lists_name_the_backend_and_never_its_address(
    backends: Backends, harness: Harness
) -> None:
    pool = harness.pool
    collector = Collector(harness)
    try:
        await _until(lambda: all(b.healthy and b.capable for b in pool.backends[:2]))
        # Two at once, so both live backends run one.
        jobs = [await harness.submit(user, seed=user, steps=6) for user in (1, 2)]
        done = [await harness.wait_state(j.id, JobState.DELIVERED) for j in jobs]
    finally:
        await collector.close()
    ran_on = {pool.display_name(job.backend) for job in done}
    assert ran_on == set(backends.names[:2])

    texts: list[str] = []
    running: set[str] = set()
    for update in collector.updates:
        embed = status_embed(update, backend_name=pool.display_name(update.job.backend))
        texts.append(_embed_text(embed))
        if embed.title and embed.title.startswith(("Running on ", "Starting on ")):
            running.add(embed.title.split(" on ", 1)[1])
    assert running == ran_on, "the status message names the backend a job runs on"

    for job in done:
        embed = result_embed(job, images=1, backend_name=pool.display_name(job.backend))
        fields = {f.name: f.value for f in embed.fields}
        assert fields["Ran on"] == pool.display_name(job.backend)
        texts.append(_embed_text(embed))

    # Every state on every backend, running or not (a job keeps its backend's key from DISPATCHED on).
    for state in JobState:
        for endpoint in backends.settings.backends:
            job = dataclasses.replace(done[0], state=state, backend=endpoint.name, failure_reason="Why.")
            update = JobUpdate(job=job, node="KSampler", step=3, steps=6, overall=0.5, elapsed=4.0)
            name = pool.display_name(job.backend)
            assert name == endpoint.display_name
            texts.append(_embed_text(status_embed(update, backend_name=name)))
            texts.append(_embed_text(result_embed(job, backend_name=name)))
            texts.append(_embed_text(review_embed(job, "A filter asked for a review.")))

    queue = queue_text(done, waiting=0, pool=pool, position=harness.engine.position)
    assert f"Image servers: {names_with_load(pool)}" in queue
    listing = jobs_text(done, pool=pool)
    for job in done:
        assert f"`{job.id}` /imagine: done on {pool.display_name(job.backend)}" in listing
    texts += [queue, listing]
    _assert_no_leaks(backends, texts)


def names_with_load(pool: Any) -> str:
    words = ["idle" if b.healthy else "not answering" for b in pool.backends]
    return ", ".join(f"{b.display_name} ({w})" for b, w in zip(pool.backends, words, strict=True))


async def test_a_backend_no_longer_configured_is_not_named_at_all(
    backends: Backends, harness: Harness
) -> None:
    job = await harness.submit(seed=3, steps=1)
    gone = dataclasses.replace(job, state=JobState.DELIVERED, backend="retired-box.example:8188")
    assert harness.pool.display_name(gone.backend) is None
    embed = result_embed(gone, backend_name=harness.pool.display_name(gone.backend))
    assert "Ran on" not in [f.name for f in embed.fields]
    assert "retired-box" not in _embed_text(embed)


# --- errors ----------------------------------------------------------------------------------------------


async def _ends(harness: Harness, state: JobState = JobState.FAILED, **values: Any) -> Job:
    job = await harness.submit(**values)
    return await harness.wait_state(job.id, state, timeout=15)


async def _running(harness: Harness, **values: Any) -> Job:
    job = await harness.submit(**values)
    return await harness.wait_state(job.id, JobState.RUNNING, timeout=15)


def _png(side: int) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), random.Random(side).randbytes(side * side * 3)).save(out, "PNG")
    return out.getvalue()


async def test_every_error_a_run_ends_with_names_the_backend_and_never_its_address(
    backends: Backends, harness: Harness
) -> None:
    pool = harness.pool
    live = (backends.first, backends.second)
    await _until(lambda: all(b.healthy and b.capable for b in pool.backends[:2]))
    reasons: dict[str, tuple[str, str]] = {}  # kind -> (display name of the job's backend, reason)

    def record(kind: str, job: Job) -> None:
        name = pool.display_name(job.backend)
        assert name is not None
        assert job.failure_reason is not None
        reasons[kind] = (name, job.failure_reason)

    for fake in live:  # a node raises while running
        fake.fail_node("KSampler", "torch.OutOfMemoryError", "CUDA out of memory", times=1)
    record("execution", await _ends(harness, seed=4, steps=2))
    for fake in live:
        fake.clear_failures()

    models = list(backends.first.checkpoints)
    for fake in live:  # the model went away after the bot read /object_info: validation refuses it
        fake.checkpoints = ["other.safetensors"]
    record("rejected", await _ends(harness, seed=5, steps=2))
    for fake in live:
        fake.checkpoints = models

    for fake in live:  # a proxy's error page instead of ComfyUI's answer
        fake.fail_next_prompts = 1
    record("unexpected", await _ends(harness, seed=6, steps=2))
    for fake in live:
        fake.fail_next_prompts = 0

    job = await _running(harness, seed=7, steps=40)  # ComfyUI restarts and forgets the prompt
    await backends.fake_of(job.backend).restart()
    record("lost", await harness.wait_state(job.id, JobState.FAILED, timeout=15))

    await _until(lambda: all(b.healthy for b in pool.backends[:2]))
    job = await _running(harness, seed=8, steps=40)  # ComfyUI goes away and stays away past the grace
    await backends.fake_of(job.backend).stop()
    record("gone", await harness.wait_state(job.id, JobState.FAILED, timeout=15))

    assert reasons["execution"][1].startswith(f"{reasons['execution'][0]} failed at node ")
    assert f"rejected by {reasons['rejected'][0]}: " in reasons["rejected"][1]
    assert reasons["unexpected"][1].startswith(f"{reasons['unexpected'][0]} gave an unexpected answer.")
    assert reasons["lost"][1].startswith(f"{reasons['lost'][0]} lost the job")
    assert reasons["gone"][1].startswith(f"{reasons['gone'][0]} is not answering right now.")

    # Errors of single requests, straight from each backend's client.
    names = backends.names
    errors: list[tuple[str, ComfyError]] = []
    alive = next(b for b in pool.backends[:2] if b.healthy)
    for backend, call in (
        (pool.backends[2], pool.backends[2].client.http.system_stats()),  # nothing listens
        (pool.backends[3], pool.backends[3].client.http.system_stats()),  # the origin check refuses
    ):
        with pytest.raises(ComfyError) as info:
            await call
        errors.append((backend.display_name, info.value))
    backends.fake_of(alive.name).max_upload_size = 2000  # a proxy's body limit
    with pytest.raises(ComfyError) as info:
        await alive.client.http.upload_image(_png(64), "input.png")
    errors.append((alive.display_name, info.value))
    # Frames lost on a dropped socket: the run code builds it the same way from its endpoint.
    endpoint: Endpoint = alive.client.endpoint
    errors.append(
        (alive.display_name, OutputsLost("p1", "node 9 sent 0 of 1 images", server=endpoint.display_name))
    )

    assert errors[0][1].user_message == f"{names[2]} is not answering right now."
    assert errors[1][1].user_message == f"{names[3]} refused the connection (origin check)."
    assert errors[2][1].user_message == f"The image is too large for {alive.display_name}."
    texts = [reason for _, reason in reasons.values()]
    for name, error in errors:
        assert name in error.user_message
        # The detail is for the operator's log: it keeps the address.
        texts += [error.user_message, user_reason(error)]
    _assert_no_leaks(backends, texts)
    assert any(backends.leaks(str(error)) for _, error in errors[:2]), "logs still say where"
