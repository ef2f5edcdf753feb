"""EditThrottle: coalescing per message, the per-message interval, the channel budget, priorities."""

from __future__ import annotations

import asyncio

from bot.discord_ui.throttle import EditThrottle


class Recorder:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def edit(self, label: str):
        async def send() -> None:
            self.sent.append(label)

        return send


async def test_a_newer_edit_replaces_an_unsent_one() -> None:
    throttle, out = EditThrottle(interval=0.05), Recorder()
    throttle.touch("job")
    throttle.submit(1, "job", out.edit("old"))
    throttle.submit(1, "job", out.edit("new"))
    await throttle.flush(1)
    assert out.sent == ["new"]
    await throttle.close()


async def test_touch_spaces_the_next_edit_from_an_outside_edit() -> None:
    throttle, out = EditThrottle(interval=0.2), Recorder()
    throttle.touch("job")
    throttle.submit(1, "job", out.edit("progress"))
    await asyncio.sleep(0.05)
    assert out.sent == []
    await throttle.flush(1)
    assert out.sent == ["progress"]
    await throttle.close()


async def test_forget_drops_what_is_still_queued() -> None:
    throttle, out = EditThrottle(interval=0.2), Recorder()
    throttle.touch("done")
    throttle.submit(1, "done", out.edit("stale progress"))
    throttle.forget("done")
    await throttle.flush(1)
    assert out.sent == []
    await throttle.close()


async def test_a_low_priority_edit_never_replaces_a_normal_one() -> None:
    throttle, out = EditThrottle(interval=0.05), Recorder()
    throttle.touch("job")
    throttle.submit(1, "job", out.edit("progress"))
    throttle.submit(1, "job", out.edit("position"), low=True)
    await throttle.flush(1)
    assert out.sent == ["progress"]
    throttle.touch("job")
    throttle.submit(1, "job", out.edit("position"), low=True)
    throttle.submit(1, "job", out.edit("progress 2"))
    await throttle.flush(1)
    assert out.sent == ["progress", "progress 2"]
    await throttle.close()


async def test_low_priority_edits_leave_part_of_the_channel_budget_to_the_others() -> None:
    throttle, out = EditThrottle(interval=0.0, channel_burst=4, channel_period=10.0), Recorder()
    for n in range(4):
        throttle.submit(1, f"queued-{n}", out.edit(f"position {n}"), low=True)
    await asyncio.sleep(0.05)
    assert len(out.sent) == 3, "one request of the four stays in reserve"
    throttle.submit(1, "running", out.edit("progress"))
    await asyncio.sleep(0.05)
    assert out.sent[-1] == "progress"
    await throttle.close()


async def test_deliveries_and_queued_edits_share_the_channel_budget() -> None:
    now = [0.0]
    throttle, out = (
        EditThrottle(interval=0.0, channel_burst=2, channel_period=0.2, clock=lambda: now[0]),
        Recorder(),
    )
    await throttle.reserve(1)
    await throttle.reserve(1)  # two deliveries used the whole burst
    throttle.submit(1, "job", out.edit("progress"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert out.sent == [], "no budget left in this channel until it refills"
    throttle.submit(2, "other", out.edit("elsewhere"))
    now[0] += 0.2  # the budget refills
    await throttle.flush(2)
    assert sorted(out.sent) == ["elsewhere", "progress"]
    await throttle.reserve(1)  # and a delivery can take from it again
    await throttle.close()


async def test_a_channel_the_previous_process_used_starts_from_an_empty_budget() -> None:
    """A restarted bot does not know what its previous process spent in a channel; Discord does."""
    now = [100.0]
    throttle = EditThrottle(interval=0.0, channel_burst=4, channel_period=5.0, clock=lambda: now[0])
    throttle.carry_over(1)
    assert throttle._channel(1).tokens == 0.0
    assert throttle._channel(2).tokens == 4.0  # a channel nobody used before
    now[0] += 2.5  # two requests' worth of refill (4 per 5 s)
    throttle.carry_over(3)
    assert throttle._channel(3).tokens == 2.0
    await throttle.close()
