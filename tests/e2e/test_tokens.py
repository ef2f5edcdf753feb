"""Interaction tokens die (after 15 minutes on Discord): long jobs keep their status message current
through the channel, and members never see a 50027."""

from __future__ import annotations

from bot.jobmodel.states import JobState
from tests.e2e.harness import embed_text, job_id_of, message_edits, status_of


async def test_token_expiry_mid_job_still_delivers_through_the_channel(make_bot, fake_comfy) -> None:
    fake_comfy.step_delay = 0.1
    bot = await make_bot(token_lifetime=0.6)  # Discord kills the token; the bot still thinks it is young
    fake = bot.fake
    record = await fake.slash("imagine", {"prompt": "a very long night", "steps": 15})
    message = await status_of(fake, record)
    job = await bot.wait_job(job_id_of(message), JobState.DELIVERED)
    final = fake.message(message.id)
    assert final.attachments
    assert f"job {job.id}" in embed_text(final)
    channel_edits = fake.calls("PATCH", f"/channels/*/messages/{message.id}")
    assert any(c.status == 200 for c in channel_edits), "edits moved to the channel route"
    assert [m for m in fake.messages.values() if "50027" in m.content or "Webhook" in m.content] == []
    assert len(fake.channel_messages()) == 1, "no second status message"


async def test_bot_side_token_limit_switches_to_channel_edits_before_discord_refuses(
    make_bot, fake_comfy
) -> None:
    fake_comfy.step_delay = 0.1
    bot = await make_bot(options={"token_seconds": 0.3})
    fake = bot.fake
    record = await fake.slash("imagine", {"prompt": "a patient owl", "steps": 12})
    message = await status_of(fake, record)
    await bot.wait_job(job_id_of(message), JobState.DELIVERED)
    assert fake.message(message.id).attachments
    refused = [r for r in fake.requests if r.error_code == 50027]
    assert refused == [], "the bot stopped using the token before it died"
    edits = message_edits(fake, message.id, [record.token])
    assert any(e.path.startswith("/webhooks/") for e in edits)
    assert any(e.path.startswith("/channels/") for e in edits)
