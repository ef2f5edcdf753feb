"""The one access rule on every path, through the real discord.py, under the DEFAULT moderation settings:
/show of other members' jobs, of other servers' jobs, of age-restricted results and of held results;
follow-up buttons pressed by someone else; review decisions by another server's moderator, and through
the Reject form without the moderator permission. Every refusal is private and changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.jobmodel.states import JobState
from bot.moderation import GuildPolicy, ScreeningResult
from tests.e2e.harness import BotUnderTest, button_labels, job_id_of, status_of
from tests.e2e.moderation_support import (
    MODERATOR_ONLY,
    MovableClock,
    labels,
    mod,
    reply_of,
    run_job,
    set_setting,
    wait_review_message,
)
from tests.fakes.discord.server import MODERATOR_PERMISSIONS, FakeDiscord

COOLDOWN = GuildPolicy().cooldown_seconds


@dataclass
class StandInScreener:
    """Judges every image NSFW."""

    name: str = "stand-in"
    seen: list[int] = field(default_factory=list)

    def classify(self, image: bytes) -> ScreeningResult:
        self.seen.append(len(image))
        return ScreeningResult(nsfw=True, score=0.91, labels=("FEMALE_BREAST_EXPOSED",))


def public_messages(fake: FakeDiscord, channel: Any) -> list[Any]:
    """What everyone in a channel sees (not deleted, not ephemeral)."""
    return [m for m in fake.channel_messages(channel) if not m.ephemeral]


async def refused_privately(fake: FakeDiscord, record: Any, channel: Any = None) -> str:
    """The private answer to an interaction that must leave no public trace in ``channel``."""
    before = len(public_messages(fake, channel or fake.channel))
    text = await reply_of(fake, record)
    assert len(public_messages(fake, channel or fake.channel)) == before, "a public message was left"
    return text


async def delivered(bot: BotUnderTest, clock: MovableClock, **kwargs: Any) -> tuple[Any, str]:
    status, job_id = await run_job(bot.fake, **kwargs)
    await bot.wait_job(job_id, JobState.DELIVERED)
    clock.advance(COOLDOWN + 1)
    return bot.fake.message(status.id), job_id


def member(fake: FakeDiscord, name: str, guild: Any = None, roles: Any = ()) -> Any:
    user = fake.create_user(name)
    fake.add_member(guild or fake.guild, user, roles=roles)
    return user


# --- /show -------------------------------------------------------------------------------------------


async def test_show_of_another_members_job_is_refused(bot: BotUnderTest, clock) -> None:
    fake = bot.fake
    _, job_id = await delivered(bot, clock)
    carol = member(fake, "carol")
    await fake.dispatch_guild_create(fake.guild)
    record = await fake.slash("show", {"job": job_id}, user=carol)
    text = await refused_privately(fake, record)
    assert text == f"Only the member who asked for job `{job_id}` (or a moderator) can show its results."
    # Its owner and a moderator may.
    for user in (fake.user, fake.moderator):
        shown = await status_of(fake, await fake.slash("show", {"job": job_id}, user=user))
        await fake.wait_for(lambda shown=shown: fake.message(shown.id).attachments)
        assert "Re-roll" in button_labels(fake.message(shown.id))


async def test_show_of_a_job_from_another_server_is_refused(bot: BotUnderTest, clock) -> None:
    fake = bot.fake
    _, job_id = await delivered(bot, clock)
    other = fake.create_guild("Other Guild", members=[fake.user])
    lounge = fake.create_channel(other, "lounge")
    admins = fake.create_role(other, "Admins", permissions=MODERATOR_PERMISSIONS)
    dave = member(fake, "dave", other, roles=[admins])
    await fake.dispatch_guild_create(other)
    for user in (fake.user, dave):  # not even its owner, nor that server's moderators
        record = await fake.slash("show", {"job": job_id}, user=user, channel=lounge)
        text = await refused_privately(fake, record, lounge)
        assert text == f"There is no job `{job_id}` in this server."
    assert public_messages(fake, lounge) == []


async def test_show_of_an_age_restricted_result_in_a_normal_channel_is_refused(
    bot: BotUnderTest, clock
) -> None:
    fake = bot.fake
    _, job_id = await delivered(bot, clock, channel=fake.nsfw_channel)
    for user in (fake.user, fake.moderator):
        record = await fake.slash("show", {"job": job_id}, user=user)
        text = await refused_privately(fake, record)
        assert text == (
            f"Job `{job_id}` was made in an age-restricted channel, so its images and anything made "
            "from them stay in age-restricted channels."
        )
    # In an age-restricted channel it is shown.
    shown = await status_of(fake, await fake.slash("show", {"job": job_id}, channel=fake.nsfw_channel))
    await fake.wait_for(lambda: fake.message(shown.id).attachments)


async def test_show_never_reposts_a_result_held_for_review(
    bot: BotUnderTest, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = bot.fake
    monkeypatch.setattr("bot.app.load_screener", lambda: (StandInScreener(), "stand-in"))
    await bot.restart()
    await set_setting(fake, "review_channel", fake.mod_channel.mention)
    await set_setting(fake, "nsfw_output_action", "review")
    status, job_id = await run_job(fake)
    await bot.wait_job(job_id, JobState.HELD)
    for user in (fake.user, fake.moderator):
        record = await fake.slash("show", {"job": job_id}, user=user)
        text = await refused_privately(fake, record)
        assert text == f"The result of job `{job_id}` is waiting for a moderator to check it."
    assert fake.message(status.id).attachments == []
    assert not [m for m in public_messages(fake, fake.channel) if m.attachments]


# --- buttons -----------------------------------------------------------------------------------------


async def test_a_follow_up_button_pressed_by_someone_else_is_refused(bot: BotUnderTest, clock) -> None:
    fake = bot.fake
    message, job_id = await delivered(bot, clock)
    assert "Upscale" in button_labels(message)
    carol = member(fake, "carol")
    await fake.dispatch_guild_create(fake.guild)
    record = await fake.click(f"cc:act:{job_id}:0", message, user=carol)
    text = await refused_privately(fake, record)
    assert text == "Only the member who asked for this image can use its buttons."
    assert await bot.engine.jobs.recent_for_user(carol.id, limit=5) == []
    # The owner's press runs it.
    mine = await fake.click(f"cc:act:{job_id}:0", message)
    upscaled = job_id_of(await status_of(fake, mine))
    assert (await bot.wait_job(upscaled, JobState.DELIVERED)).template == "upscale"


# --- review decisions ----------------------------------------------------------------------------------


async def test_another_servers_moderator_cannot_decide_a_review(bot: BotUnderTest) -> None:
    """A server's review channel set (by mistake) to a channel of another server the bot is in: that
    server's moderators see the request, but may not decide on it, through any path."""
    fake = bot.fake
    other = fake.create_guild("Other Guild")
    their_queue = fake.create_channel(other, "their-queue")
    admins = fake.create_role(other, "Admins", permissions=MODERATOR_PERMISSIONS)
    dave = member(fake, "dave", other, roles=[admins])
    await fake.dispatch_guild_create(other)
    await set_setting(fake, "review_mode", "everyone")
    await set_setting(fake, "review_channel", their_queue.mention)
    _, job_id = await run_job(fake)
    review = await fake.wait_for(lambda: next(iter(fake.channel_messages(their_queue)), None))
    assert f"job {job_id}" in review.embeds[0]["footer"]["text"]
    refusal = f"There is no job `{job_id}` in this server."
    for action in ("approve", "reject", "ban"):
        record = await fake.click(f"cc:rv:{action}:{job_id}", review, user=dave)
        assert await refused_privately(fake, record, their_queue) == refusal
        assert record.modal is None
    # A forged form submit (nothing in memory vouches for a form any more: the submit is checked).
    fake.strict_commands = False
    forged = await fake.modal_submit(
        f"cc:rvform:reject:{job_id}:{dave.id}", {"reason": "no"}, user=dave, channel=their_queue
    )
    assert await reply_of(fake, forged) == refusal
    assert (await bot.engine.jobs.get(job_id)).state is JobState.PENDING_REVIEW
    assert labels(fake.message(review.id)) == ["Approve", "Reject", "Reject and ban"]


async def test_the_reject_form_checks_the_moderator_when_it_is_submitted(bot: BotUnderTest) -> None:
    """bob opens the Reject form as a moderator, then loses the role before submitting it."""
    fake = bot.fake
    await set_setting(fake, "review_mode", "everyone")
    await set_setting(fake, "review_channel", fake.mod_channel.mention)
    _, job_id = await run_job(fake)
    review = await wait_review_message(fake, job_id)
    opened = await fake.click(f"cc:rv:reject:{job_id}", review, user=fake.moderator)
    await opened
    assert opened.modal is not None
    fake.add_member(fake.guild, fake.moderator)  # the Moderator role is taken away
    submitted = await fake.modal_submit(
        opened.modal["custom_id"], {"reason": "off-topic"}, user=fake.moderator
    )
    assert MODERATOR_ONLY in await refused_privately(fake, submitted, fake.mod_channel)
    # Nor can a member submit someone else's form.
    member_form = await fake.modal_submit(opened.modal["custom_id"], {"reason": "mine"}, user=fake.user)
    assert "opened by another moderator" in await reply_of(fake, member_form)
    assert (await bot.engine.jobs.get(job_id)).state is JobState.PENDING_REVIEW
    assert labels(fake.message(review.id)) == ["Approve", "Reject", "Reject and ban"]
    assert "Approved" in await _approve_as_a_moderator(fake, review, job_id)


async def _approve_as_a_moderator(fake: FakeDiscord, review: Any, job_id: str) -> str:
    carol = member(fake, "carol", roles=[fake.moderator_role])
    await fake.dispatch_guild_create(fake.guild)
    return await reply_of(fake, await fake.click(f"cc:rv:approve:{job_id}", review, user=carol))


async def test_another_servers_moderator_cannot_mod_cancel_a_job(bot: BotUnderTest, fake_comfy) -> None:
    fake = bot.fake
    fake_comfy.step_delay = 0.2  # still running when dave tries
    _, job_id = await run_job(fake, options={"prompt": "slow", "steps": 20})
    other = fake.create_guild("Other Guild")
    lounge = fake.create_channel(other, "lounge")
    admins = fake.create_role(other, "Admins", permissions=MODERATOR_PERMISSIONS)
    dave = member(fake, "dave", other, roles=[admins])
    await fake.dispatch_guild_create(other)
    record = await fake.slash("mod cancel", {"job": job_id}, user=dave, channel=lounge)
    assert await reply_of(fake, record) == f"There is no job `{job_id}` in this server."
    assert (await bot.engine.jobs.get(job_id)).state is not JobState.CANCELLED
    # Its own server's moderator may.
    assert f"Cancelled job `{job_id}`" in await mod(fake, "cancel", {"job": job_id})
    fake_comfy.step_delay = 0.0
