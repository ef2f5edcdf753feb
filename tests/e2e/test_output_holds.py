"""Results held for a moderator are job state, under the DEFAULT moderation settings: they outlive the
retention time and a restart, and Release delivers them through the engine's delivery path (retried
when the post fails, resumed after a restart)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.jobmodel.states import JobState
from bot.moderation import AuditAction, ScreeningResult
from tests.e2e.harness import BotUnderTest, button_labels
from tests.e2e.moderation_support import (
    MovableClock,
    eventually,
    field,
    labels,
    reply_of,
    run_job,
    set_setting,
    text_of,
)
from tests.fakes.discord.server import FakeDiscord

RETENTION_HOURS = 2


@dataclass
class StandInScreener:
    """Judges every image NSFW (none while ``nsfw`` is False)."""

    name: str = "stand-in"
    nsfw: bool = True

    def classify(self, image: bytes) -> ScreeningResult:
        return ScreeningResult(nsfw=self.nsfw, score=0.9 if self.nsfw else 0.1, labels=("BUTTOCKS_EXPOSED",))


@pytest.fixture
def screener(monkeypatch: pytest.MonkeyPatch) -> StandInScreener:
    stand_in = StandInScreener()
    monkeypatch.setattr("bot.app.load_screener", lambda: (stand_in, "output screening is on (stand-in)"))
    return stand_in


@pytest.fixture
async def bot(
    fake_discord, fake_comfy, tmp_path: Path, clock: MovableClock, screener: StandInScreener
) -> AsyncIterator[BotUnderTest]:
    """Default moderation settings, plus a review channel and held NSFW results."""
    under_test = BotUnderTest(
        fake_discord,
        tmp_path / "data",
        [fake_comfy.base_url],
        env={"RETENTION_HOURS": str(RETENTION_HOURS)},
        options={"clock": clock},
    )
    await under_test.start()
    await set_setting(fake_discord, "review_channel", fake_discord.mod_channel.mention)
    await set_setting(fake_discord, "nsfw_output_action", "review")
    yield under_test
    await under_test.stop()


def held_message(fake: FakeDiscord, job_id: str) -> Any:
    for message in fake.channel_messages(fake.mod_channel):
        if "Output check" in text_of(message) and f"job {job_id}" in text_of(message):
            return message
    return None


async def held_job(bot: BotUnderTest) -> tuple[Any, str, Any]:
    """A job whose results the screener held: (its status message, id, the moderators' message)."""
    status, job_id = await run_job(bot.fake)
    await bot.wait_job(job_id, JobState.HELD)
    held = await bot.fake.wait_for(lambda: held_message(bot.fake, job_id))
    waiting = await bot.fake.wait_for(
        lambda: "check the result" in text_of(bot.fake.message(status.id)) and bot.fake.message(status.id)
    )
    assert waiting.attachments == []
    assert labels(held) == ["Release", "Discard"]
    assert held.attachment_names
    assert all(name.startswith("SPOILER_") for name in held.attachment_names)
    return status, job_id, held


async def test_held_results_outlive_the_retention_time_and_a_restart(
    bot: BotUnderTest, clock: MovableClock, screener: StandInScreener
) -> None:
    fake = bot.fake
    screener.nsfw = False
    _, plain = await run_job(fake, options={"prompt": "a calm lake"})
    await bot.wait_job(plain, JobState.DELIVERED)
    clock.advance(60)
    screener.nsfw = True
    status, job_id, held = await held_job(bot)

    clock.advance(RETENTION_HOURS * 3600 + 60)  # no moderator looked for longer than the retention time
    removed = await bot.engine.sweep_spool()
    assert plain in removed, "the janitor ran and swept what it may"
    assert job_id not in removed
    outputs = await bot.engine.outputs.list_for_job(job_id)
    assert outputs
    assert all(o.path.exists() for o in outputs)

    await bot.restart()
    assert job_id not in await bot.engine.sweep_spool()
    assert len([m for m in fake.channel_messages(fake.mod_channel) if "Output check" in text_of(m)]) == 1

    record = await fake.click(f"cc:out:release:{job_id}", held, user=fake.moderator)
    assert await reply_of(fake, record) == "Released."
    job = await bot.wait_job(job_id, JobState.DELIVERED)
    result = await fake.wait_for(lambda: fake.message(status.id).attachments and fake.message(status.id))
    assert not any(name.startswith("SPOILER_") for name in result.attachment_names)
    assert "Re-roll" in button_labels(result)
    assert field(fake.message(held.id), "Decision") == f"✅ Released by {fake.moderator.mention}"
    assert fake.message(held.id).components == []
    entries = await bot.app.bot.controller.moderation.audit.for_job(job.id)  # type: ignore[union-attr]
    assert [e.action for e in entries if e.action == AuditAction.OUTPUT_RELEASE] == [
        AuditAction.OUTPUT_RELEASE
    ]
    # Released results are never screened (nor held) again; once delivered the janitor may take them.
    clock.advance(RETENTION_HOURS * 3600 + 60)
    assert job_id in await bot.engine.sweep_spool()


async def test_a_release_whose_post_fails_once_is_delivered_on_retry(bot: BotUnderTest) -> None:
    fake = bot.fake
    bot.engine.deliverer.pause = lambda failures: 0.05
    status, job_id, held = await held_job(bot)
    # The bot lost its permission in the member's channel for a moment: the first post is refused.
    refused = fake.inject_errors(f"PATCH /channels/*/messages/{status.id}", 403, code=50013)
    record = await fake.click(f"cc:out:release:{job_id}", held, user=fake.moderator)
    assert await reply_of(fake, record) == "Released."
    await bot.wait_job(job_id, JobState.DELIVERED)
    assert len(refused.hits) == 1
    result = fake.message(status.id)
    assert result.attachments
    assert "Re-roll" in button_labels(result)
    posts = [c for c in fake.calls("PATCH", f"/channels/*/messages/{status.id}") if c.files]
    assert [c.status for c in posts] == [403, 200]


async def test_a_release_whose_post_fails_is_delivered_after_a_restart(bot: BotUnderTest) -> None:
    fake = bot.fake
    bot.engine.deliverer.pause = lambda failures: 3600.0  # this process will not try again
    status, job_id, held = await held_job(bot)
    refused = fake.inject_errors(f"PATCH /channels/*/messages/{status.id}", 403, code=50013)
    record = await fake.click(f"cc:out:release:{job_id}", held, user=fake.moderator)
    assert await reply_of(fake, record) == "Released."
    await eventually(lambda: _failed_once(bot, job_id))
    assert len(refused.hits) == 1
    assert (await bot.engine.jobs.get(job_id)).state is JobState.RELEASED
    await bot.restart()
    await bot.wait_job(job_id, JobState.DELIVERED)
    assert fake.message(status.id).attachments
    posts = [c for c in fake.calls("PATCH", f"/channels/*/messages/{status.id}") if c.files]
    assert [c.status for c in posts] == [403, 200]


async def _failed_once(bot: BotUnderTest, job_id: str) -> bool:
    return bot.engine.deliverer.failures.get(job_id, 0) >= 1


async def test_discarded_results_are_withheld_and_the_member_is_told(bot: BotUnderTest) -> None:
    fake = bot.fake
    status, job_id, held = await held_job(bot)
    record = await fake.click(f"cc:out:discard:{job_id}", held, user=fake.moderator)
    assert await reply_of(fake, record) == "Discarded."
    job = await bot.wait_job(job_id, JobState.WITHHELD)
    assert job.failure_reason == "A moderator checked this result and decided not to post it here."
    told = await fake.wait_for(
        lambda: "decided not to post it" in text_of(fake.message(status.id)) and fake.message(status.id)
    )
    assert told.attachments == []
    assert field(fake.message(held.id), "Decision") == f"🗑️ Discarded by {fake.moderator.mention}"
    assert fake.message(held.id).components == []


async def test_release_of_images_no_longer_stored_says_so_and_changes_nothing(bot: BotUnderTest) -> None:
    """Results held before holds were job states may have lost their images to the janitor."""
    fake = bot.fake
    _, job_id, held = await held_job(bot)
    for output in await bot.engine.outputs.list_for_job(job_id):
        output.path.unlink()
    record = await fake.click(f"cc:out:release:{job_id}", held, user=fake.moderator)
    answer = await reply_of(fake, record)
    assert answer == "The images of this job are no longer stored, so they can't be released."
    assert (await bot.engine.jobs.get(job_id)).state is JobState.HELD
    assert labels(fake.message(held.id)) == ["Release", "Discard"]  # Discard still tells the member
