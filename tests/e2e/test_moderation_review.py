"""The review lane end to end: held requests posted for moderators, their buttons (also after a
restart, also clicked twice at once), and what the requester sees."""

from __future__ import annotations

import asyncio
import io

from PIL import Image

from bot.jobmodel.states import JobState
from bot.moderation import AuditAction
from tests.e2e.harness import BotUnderTest, png
from tests.e2e.moderation_support import (
    MODERATOR_ONLY,
    eventually,
    field,
    labels,
    mod,
    modal_inputs,
    reply_of,
    run_job,
    set_setting,
    text_of,
    wait_review_message,
)


async def review_everything(fake) -> None:
    await set_setting(fake, "review_channel", fake.mod_channel.mention)
    await set_setting(fake, "review_mode", "everyone")
    await set_setting(fake, "cooldown_seconds", "0")


def moderation_of(bot: BotUnderTest):
    return bot.app.bot.controller.moderation  # type: ignore[union-attr]


async def test_a_held_request_is_posted_for_review_and_runs_once_approved(bot: BotUnderTest) -> None:
    fake = bot.fake
    await review_everything(fake)
    status, job_id = await run_job(
        fake,
        "img2img",
        {"prompt": "a castle made of cheese"},
        attachments=[("in.png", png((600, 400)), "image/png")],
    )
    assert "Waiting for a moderator to review this request" in text_of(status)
    review = await wait_review_message(fake, job_id)
    text = text_of(review)
    assert "Review: /img2img" in text
    assert "a castle made of cheese" in text
    assert field(review, "Requested by") == fake.user.mention
    assert field(review, "In") == fake.channel.mention
    assert "Every request is reviewed" in field(review, "Why it waits")
    assert "**strength**: 0.6" in field(review, "Parameters")
    assert labels(review) == ["Approve", "Reject", "Reject and ban"]
    [thumbnail] = review.attachments
    assert thumbnail.filename == "SPOILER_image.png"
    with Image.open(io.BytesIO(thumbnail.data)) as image:
        assert max(image.size) <= 256

    record = await fake.click(f"cc:rv:approve:{job_id}", review, user=fake.moderator)
    assert "Approved: the job is queued." in await reply_of(fake, record)
    await bot.wait_job(job_id, JobState.DELIVERED)
    decided = fake.message(review.id)
    assert field(decided, "Decision") == f"✅ Approved by {fake.moderator.mention}"
    assert decided.components == []
    assert decided.attachment_names == ["SPOILER_image.png"]
    final = fake.message(status.id)
    assert final.attachments, "the approved job delivered its images"
    actions = [e.action for e in await moderation_of(bot).audit.for_job(job_id)]
    assert actions == [AuditAction.REVIEW_HOLD, AuditAction.REVIEW_APPROVE]


async def test_buttons_work_after_a_restart_and_a_double_click_has_one_winner(bot: BotUnderTest) -> None:
    fake = bot.fake
    carol = fake.create_user("carol")
    fake.add_member(fake.guild, carol, roles=[fake.moderator_role])
    await review_everything(fake)
    status, job_id = await run_job(fake, options={"prompt": "two moderators"})
    review = await wait_review_message(fake, job_id)

    await bot.restart()  # a new process: the buttons are found again through their custom_id
    # Both moderators press Approve at the same moment.
    clicks = [
        await fake.click(f"cc:rv:approve:{job_id}", review, user=user) for user in (fake.moderator, carol)
    ]
    answers = sorted(await asyncio.gather(*(reply_of(fake, c) for c in clicks)))
    approvals = [
        e for e in await moderation_of(bot).audit.for_job(job_id) if e.action == AuditAction.REVIEW_APPROVE
    ]
    assert len(approvals) == 1
    winner = approvals[0].actor_id
    assert answers == [f"Already decided — ✅ Approved by <@{winner}>.", "Approved: the job is queued."]
    await bot.wait_job(job_id, JobState.DELIVERED)
    await fake.wait_for(lambda: fake.message(review.id).components == [])
    assert field(fake.message(review.id), "Decision") == f"✅ Approved by <@{winner}>"
    assert fake.message(status.id).attachments, "delivered once, on the status message"
    assert len(await bot.engine.outputs.list_for_job(job_id)) == 1


async def test_a_rejection_reason_reaches_the_requester(bot: BotUnderTest) -> None:
    fake = bot.fake
    await review_everything(fake)
    await set_setting(fake, "mod_log_channel", fake.mod_channel.mention)
    status, job_id = await run_job(fake, options={"prompt": "something off-topic"})
    review = await wait_review_message(fake, job_id)
    record = await fake.click(f"cc:rv:reject:{job_id}", review, user=fake.moderator)
    await record
    assert record.modal["title"] == "Reject this request"
    inputs = modal_inputs(record)
    assert list(inputs.values()) == ["reason"]
    submitted = await fake.modal_submit(
        record.modal["custom_id"], {"reason": "Please keep it on topic for this server."}, user=fake.moderator
    )
    assert "Rejected; the member sees it" in await reply_of(fake, submitted)
    job = await bot.wait_job(job_id, JobState.REJECTED)
    assert job.failure_reason == "Please keep it on topic for this server."
    shown = await fake.wait_for(lambda: field(fake.message(status.id), "Reason"))
    assert shown == "Please keep it on topic for this server."
    assert "Rejected by a moderator" in text_of(fake.message(status.id))
    decided = fake.message(review.id)
    assert field(decided, "Decision") == (
        f"❌ Rejected by {fake.moderator.mention}: Please keep it on topic for this server."
    )
    assert decided.components == []
    log = await fake.wait_for(
        lambda: [m.content for m in fake.channel_messages(fake.mod_channel) if m.content.startswith("❌")]
    )
    assert log == [
        f"❌ Rejected by {fake.moderator.mention}: Please keep it on topic for this server. — job "
        f"`{job_id}` (/imagine) of {fake.user.mention}"
    ]


async def test_reject_and_ban_cancels_the_members_other_jobs(bot: BotUnderTest) -> None:
    fake = bot.fake
    await review_everything(fake)
    _, first = await run_job(fake, options={"prompt": "first"})
    _, second = await run_job(fake, options={"prompt": "second"})
    review = await wait_review_message(fake, first)
    other_review = await wait_review_message(fake, second)
    record = await fake.click(f"cc:rv:ban:{first}", review, user=fake.moderator)
    await record
    assert set(modal_inputs(record).values()) == {"reason", "duration"}
    bad = await fake.modal_submit(record.modal["custom_id"], {"duration": "a while"}, user=fake.moderator)
    assert "`a while` is not a duration" in await reply_of(fake, bad)
    assert (await bot.engine.jobs.get(first)).state is JobState.PENDING_REVIEW

    record = await fake.click(f"cc:rv:ban:{first}", review, user=fake.moderator)
    await record
    done = await fake.modal_submit(
        record.modal["custom_id"], {"duration": "1d", "reason": "spam"}, user=fake.moderator
    )
    answer = await reply_of(fake, done)
    assert f"Rejected, and {fake.user.mention} is banned until <t:" in answer
    assert "1 other job(s) cancelled" in answer
    assert (await bot.engine.jobs.get(first)).state is JobState.REJECTED
    cancelled = await bot.engine.jobs.get(second)
    assert cancelled.state is JobState.CANCELLED
    assert field(fake.message(review.id), "Decision") == (
        f"🔨 Rejected by {fake.moderator.mention}, who also banned the member: spam"
    )
    await fake.wait_for(lambda: fake.message(other_review.id).components == [])
    assert field(fake.message(other_review.id), "Decision") == "🚫 Cancelled because of a ban"

    refused = await reply_of(fake, await fake.slash("imagine", {"prompt": "hello?"}))
    assert "You are banned from using the bot here until" in refused
    assert "(24 h 00 min from now). Reason: spam" in refused
    actions = [e.action for e in await moderation_of(bot).audit.recent()]
    assert AuditAction.REVIEW_BAN in actions
    assert AuditAction.BAN in actions
    assert AuditAction.PURGE in actions


async def test_members_cannot_use_the_review_buttons(bot: BotUnderTest) -> None:
    fake = bot.fake
    await review_everything(fake)
    _, job_id = await run_job(fake)
    review = await wait_review_message(fake, job_id)
    for action in ("approve", "reject", "ban"):
        record = await fake.click(f"cc:rv:{action}:{job_id}", review, user=fake.user)
        assert MODERATOR_ONLY in await reply_of(fake, record)
        assert record.modal is None
    assert (await bot.engine.jobs.get(job_id)).state is JobState.PENDING_REVIEW
    assert labels(fake.message(review.id)) == ["Approve", "Reject", "Reject and ban"]


async def test_a_cancelled_request_updates_its_review_message(bot: BotUnderTest) -> None:
    fake = bot.fake
    await review_everything(fake)
    status, job_id = await run_job(fake)
    review = await wait_review_message(fake, job_id)
    cancel = await fake.click(f"cc:cancel:{job_id}", status, user=fake.user)
    await reply_of(fake, cancel)
    await fake.wait_for(lambda: fake.message(review.id).components == [])
    assert field(fake.message(review.id), "Decision") == "🚫 Cancelled"


async def test_a_stale_review_message_is_fixed_by_the_next_click(bot: BotUnderTest) -> None:
    fake = bot.fake
    await review_everything(fake)
    _, job_id = await run_job(fake)
    review = await wait_review_message(fake, job_id)
    await bot.stop()
    # While the bot was away the request was cancelled (e.g. with the CLI): its message still has buttons.
    bot2 = await bot.start()
    await bot2.engine.cancel(job_id, reason="Cancelled.")  # type: ignore[union-attr]
    record = await fake.click(f"cc:rv:approve:{job_id}", review, user=fake.moderator)
    assert await reply_of(fake, record) == "Already decided — 🚫 Cancelled."
    await fake.wait_for(lambda: fake.message(review.id).components == [])


async def test_without_a_review_channel_held_requests_are_refused(bot: BotUnderTest) -> None:
    fake = bot.fake
    await set_setting(fake, "review_mode", "everyone")
    record = await fake.slash("imagine", {"prompt": "anyone there?"})
    answer = await reply_of(fake, record)
    assert "needs a moderator's review, but this server has no review channel yet" in answer
    assert "/mod settings set review_channel" in answer
    assert await bot.engine.jobs.recent_for_user(int(fake.user.id)) == []
    # Moderators are exempt from review, so they still can.
    _, job_id = await run_job(fake, user=fake.moderator)
    await bot.wait_job(job_id, JobState.DELIVERED)


async def test_review_terms_hold_a_request_and_tell_moderators_which_term(bot: BotUnderTest) -> None:
    fake = bot.fake
    await set_setting(fake, "review_channel", fake.mod_channel.mention)
    await set_setting(fake, "review_terms", "dragon*")
    status, job_id = await run_job(fake, options={"prompt": "three Dragons over a city"})
    assert "Waiting for a moderator" in text_of(status)
    review = await wait_review_message(fake, job_id)
    assert field(review, "Why it waits") == "`prompt` matches a review term: dragon* (review_terms)"
    queue = await mod(fake, "queue", {"state": "pending_review"})
    assert f"`{job_id}`" in queue


async def test_pending_requests_without_a_review_message_are_posted_at_startup(bot: BotUnderTest) -> None:
    fake = bot.fake
    await review_everything(fake)
    # The bot may not post in the review channel (yet): the request waits, and is posted at the next start.
    fake.inject_errors(f"POST /channels/{fake.mod_channel.id}/messages", 403, code=50013, count=1)
    _, job_id = await run_job(fake)
    await eventually(lambda: _logged(bot, job_id))
    assert (await bot.engine.jobs.get(job_id)).state is JobState.PENDING_REVIEW
    fake.clear_injections()
    await bot.restart()
    review = await wait_review_message(fake, job_id)
    record = await fake.click(f"cc:rv:approve:{job_id}", review, user=fake.moderator)
    await reply_of(fake, record)
    await bot.wait_job(job_id, JobState.DELIVERED)


async def _logged(bot: BotUnderTest, job_id: str) -> bool:
    entries = await moderation_of(bot).audit.for_job(job_id)
    failed = bot.fake.calls("POST", f"/channels/{bot.fake.mod_channel.id}/messages")
    return bool(entries) and len(failed) >= 1
