"""The supervisor restarts crashed loops with back-off, reports them in health, and gives up loudly."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.supervisor import LoopState, RestartPolicy, Supervisor


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def until(check, limit: int = 10_000) -> None:
    for _ in range(limit):
        if check():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


async def test_a_crashed_loop_is_restarted_with_growing_back_off_and_logged(caplog) -> None:
    clock = Clock()
    runs = 0
    ok = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs <= 3:
            raise RuntimeError("database is locked")
        ok.set()
        await asyncio.Event().wait()

    supervisor = Supervisor(policy=RestartPolicy(base=1.0, cap=3.0), clock=clock, sleep=clock.sleep)
    with caplog.at_level(logging.ERROR):
        supervisor.loop("dispatcher", flaky)
        await asyncio.wait_for(ok.wait(), 5)
    health = supervisor.health["dispatcher"]
    assert health.state is LoopState.RUNNING
    assert health.restarts == 3
    assert clock.sleeps == [1.0, 2.0, 3.0]  # doubling, capped
    assert "RuntimeError" in (health.last_error or "")
    crashes = [r for r in caplog.records if "background loop dispatcher crashed" in r.getMessage()]
    assert len(crashes) == 3
    assert all(r.levelno == logging.ERROR and r.exc_info for r in crashes)
    assert supervisor.problems() == []
    await supervisor.close()
    assert health.state is LoopState.STOPPED


async def test_a_loop_that_keeps_crashing_is_given_up_and_stops_the_process() -> None:
    clock = Clock()
    fatal: list[str] = []

    async def broken() -> None:
        raise OSError("disk gone")

    supervisor = Supervisor(
        policy=RestartPolicy(base=0.1, max_crashes=4, window=60),
        on_fatal=fatal.append,
        clock=clock,
        sleep=clock.sleep,
    )
    supervisor.loop("delivery", broken)
    await until(lambda: supervisor.health["delivery"].state is LoopState.FAILED)
    assert fatal == ["background loop delivery crashed 4 times; giving up"]
    assert supervisor.problems() == ["delivery is failed (" + supervisor.health["delivery"].last_error + ")"]
    await supervisor.close()


async def test_a_restarting_critical_loop_makes_the_bot_unhealthy_but_an_optional_one_does_not() -> None:
    gate = asyncio.Event()

    async def crash_then_wait() -> None:
        raise RuntimeError("boom")

    async def hold(seconds: float) -> None:
        await gate.wait()

    supervisor = Supervisor(policy=RestartPolicy(base=0.1), sleep=hold)
    supervisor.loop("dispatcher", crash_then_wait)
    supervisor.loop("janitor", crash_then_wait, critical=False)
    await until(lambda: supervisor.health["janitor"].state is LoopState.RESTARTING)
    await until(lambda: supervisor.health["dispatcher"].state is LoopState.RESTARTING)
    assert [p.split(" (")[0] for p in supervisor.problems()] == ["dispatcher is restarting"]
    await supervisor.close()


async def test_the_back_off_starts_over_after_a_healthy_run() -> None:
    clock = Clock()
    runs = 0
    done = asyncio.Event()

    async def sometimes() -> None:
        nonlocal runs
        runs += 1
        if runs == 3:
            clock.now += 120  # ran fine for two minutes, then crashed
        if runs == 5:
            done.set()
            await asyncio.Event().wait()
        raise RuntimeError("again")

    supervisor = Supervisor(policy=RestartPolicy(base=1.0, healthy_after=60), clock=clock, sleep=clock.sleep)
    supervisor.loop("publisher", sometimes)
    await asyncio.wait_for(done.wait(), 5)
    assert clock.sleeps == [1.0, 2.0, 1.0, 2.0]
    await supervisor.close()


async def test_one_off_tasks_are_kept_and_their_failures_logged(caplog) -> None:
    supervisor = Supervisor()

    async def fails() -> None:
        raise ValueError("lost")

    with caplog.at_level(logging.ERROR):
        task = supervisor.spawn(fails(), name="deliver-ABC")
        with pytest.raises(ValueError, match="lost"):
            await task
        await asyncio.sleep(0)
    assert any("task deliver-ABC failed" in r.getMessage() for r in caplog.records)
    await supervisor.close()
    late = supervisor.spawn(asyncio.sleep(10), name="after-close")
    await asyncio.sleep(0)
    assert late.cancelled()


async def test_a_second_loop_of_the_same_name_is_refused() -> None:
    supervisor = Supervisor()

    async def forever() -> None:
        await asyncio.Event().wait()

    supervisor.loop("dispatcher", forever)
    with pytest.raises(ValueError, match="already supervised"):
        supervisor.loop("dispatcher", forever)
    await supervisor.close()
