"""The status message during a run: throttled progress edits, the final state, a deleted message."""

from __future__ import annotations

import itertools
from typing import Any

from bot.jobmodel.states import JobState
from tests.e2e.harness import (
    BotUnderTest,
    button_labels,
    embed_text,
    job_id_of,
    message_edits,
    status_of,
)

INTERVAL = 0.5  # EDIT_INTERVAL in the harness


async def test_progress_edits_are_spaced_and_the_final_state_lands(bot: BotUnderTest, fake_comfy) -> None:
    fake = bot.fake
    fake_comfy.step_delay = 0.1  # 12 steps: about 1.2 s of sampling
    record = await fake.slash("imagine", {"prompt": "a slow lighthouse", "steps": 12, "seed": 3})
    message = await status_of(fake, record)
    job = await bot.wait_job(job_id_of(message), JobState.DELIVERED)

    final = fake.message(message.id)
    texts = [embed_text(s) for s in final.history] + [embed_text(final)]
    assert any("Queued" in t or "queue" in t.lower() for t in texts), texts
    running = [t for t in texts if "Running" in t]
    assert len(running) >= 2, f"several progress edits while running: {texts}"
    assert any("step " in t and "/12" in t and "▰" in t for t in running), running
    assert final.attachments, "the result landed on the status message"
    assert f"job {job.id}" in embed_text(final)
    assert "Running" not in final.embeds[0]["title"]

    edits = message_edits(fake, message.id, [record.token])
    gaps = [b.timestamp - a.timestamp for a, b in itertools.pairwise(edits)]
    # The last edit is the delivery, which may follow the previous progress edit at once.
    progress_gaps = gaps[:-1]
    assert progress_gaps, edits
    assert min(progress_gaps) >= INTERVAL - 0.02, gaps
    assert fake.stats.rate_limited == 0


async def test_a_status_message_deleted_mid_run_is_posted_again_and_gets_the_result(
    bot: BotUnderTest, fake_comfy
) -> None:
    fake = bot.fake
    fake_comfy.step_delay = 0.1
    record = await fake.slash("imagine", {"prompt": "a fragile thing", "steps": 15})
    message = await status_of(fake, record)
    job_id = job_id_of(message)
    await fake.wait_for(lambda: "Running" in embed_text(fake.message(message.id)))
    await fake.delete_message(message.id)  # a moderator tidies the channel
    job = await bot.wait_job(job_id, JobState.DELIVERED)
    live = [m for m in fake.channel_messages() if f"job {job_id}" in embed_text(m)]
    assert len(live) == 1, "exactly one new status message"
    replacement = live[0]
    assert replacement.id != message.id
    assert replacement.attachments, "the result landed on the new message"
    assert job.status_message is not None
    assert str(job.status_message.message_id) == replacement.id
    assert fake.stats.rate_limited == 0


async def test_a_gateway_reconnect_mid_job_changes_nothing_for_the_member(
    bot: BotUnderTest, fake_comfy
) -> None:
    fake = bot.fake
    fake_comfy.step_delay = 0.05
    record = await fake.slash("imagine", {"prompt": "a stormy coast", "steps": 12})
    message = await status_of(fake, record)
    job_id = job_id_of(message)
    await bot.wait_job(job_id, JobState.RUNNING)
    await fake.reconnect_gateway()  # op 7: discord.py resumes on resume_gateway_url
    assert fake.stats.resumes == 1
    await bot.wait_job(job_id, JobState.DELIVERED)
    assert fake.message(message.id).attachments
    click = await fake.click(f"cc:delete:{job_id}", message)
    await fake.wait_for(lambda: fake.message(message.id).deleted)
    assert click.acknowledged


def _running_edit(request: Any) -> bool:
    embeds = (request.json or {}).get("embeds") or []
    return any("Running" in embed.get("title", "") for embed in embeds)


async def test_a_progress_edit_still_on_its_way_never_lands_after_the_result(
    bot: BotUnderTest, fake_comfy
) -> None:
    """A progress edit is held on its way to Discord while the job finishes. However the result's own
    edit is scheduled against it, the member ends up looking at the result."""
    assert bot.app is not None
    assert bot.app.publisher is not None
    publisher = bot.app.publisher
    fake = bot.fake
    fake_comfy.step_delay = 0.05
    progress = fake.hold("PATCH /webhooks/*", when=_running_edit)
    record = await fake.slash("imagine", {"prompt": "a photo finish", "steps": 30, "seed": 4})
    message = await status_of(fake, record)
    job_id = job_id_of(message)
    await fake.wait_for(progress.arrived.is_set, timeout=15)
    # The next edit of the message, whatever it is, is held too: the result, if it goes out now.
    result = fake.hold("PATCH /webhooks/*")
    await bot.wait_job(job_id, JobState.SUCCEEDED)

    # Either the result goes out now (and is held by the fake), or the bot holds it back itself.
    await fake.wait_for(lambda: result.arrived.is_set() or job_id in publisher.results_waiting, timeout=15)
    if result.arrived.is_set():
        # The result raced ahead of the progress edit: the worst order is that it lands first.
        result.release()
        await result.handled.wait()
        progress.release()
        await progress.handled.wait()
    else:
        progress.release()
        await fake.wait_for(result.arrived.is_set, timeout=15)
        result.release()
    await bot.wait_job(job_id, JobState.DELIVERED)
    await fake.wait_for(result.handled.is_set)
    final = fake.message(message.id)
    assert final.attachments, "the result is what the member sees"
    assert "Running" not in final.embeds[0]["title"]
    assert "Re-roll" in button_labels(final)
    assert _running_edit(progress.request)
