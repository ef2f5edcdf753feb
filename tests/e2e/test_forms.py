"""Forms hold nothing in memory, under the DEFAULT moderation settings: a Reject form left open across a
restart still works with what was typed in it, and two people editing one job get their own forms."""

from __future__ import annotations

from bot.jobmodel.states import JobState
from bot.moderation import GuildPolicy
from tests.e2e.harness import BotUnderTest, job_id_of, modal_inputs, status_of
from tests.e2e.moderation_support import (
    MovableClock,
    field,
    reply_of,
    run_job,
    set_setting,
    wait_review_message,
)

COOLDOWN = GuildPolicy().cooldown_seconds


async def test_a_reject_form_submitted_after_a_restart(bot: BotUnderTest) -> None:
    fake = bot.fake
    await set_setting(fake, "review_mode", "everyone")
    await set_setting(fake, "review_channel", fake.mod_channel.mention)
    status, job_id = await run_job(fake, options={"prompt": "something off-topic"})
    review = await wait_review_message(fake, job_id)
    opened = await fake.click(f"cc:rv:ban:{job_id}", review, user=fake.moderator)
    await opened
    assert opened.modal is not None
    form = opened.modal["custom_id"]
    assert form == f"cc:rvform:ban:{job_id}:{fake.moderator.id}"

    await bot.restart()  # the moderator is still typing
    reason = "Please keep it on topic for this server."
    submitted = await fake.modal_submit(form, {"reason": reason, "duration": "2h"}, user=fake.moderator)
    answer = await reply_of(fake, submitted)
    assert f"Rejected, and {fake.user.mention} is banned until <t:" in answer
    job = await bot.wait_job(job_id, JobState.REJECTED)
    assert job.failure_reason == reason
    assert await fake.wait_for(lambda: field(fake.message(status.id), "Reason")) == reason
    decided = fake.message(review.id)
    assert field(decided, "Decision") == (
        f"🔨 Rejected by {fake.moderator.mention}, who also banned the member: {reason}"
    )
    assert decided.components == []
    moderation = bot.app.bot.controller.moderation  # type: ignore[union-attr]
    ban = await moderation.bans.active_ban(int(fake.guild.id), int(fake.user.id))
    assert ban is not None
    assert ban.reason == reason


async def test_two_editors_of_one_job_each_get_their_own_form(bot: BotUnderTest, clock: MovableClock) -> None:
    fake = bot.fake
    status, job_id = await run_job(fake, options={"prompt": "a red fox in snow", "steps": 4})
    await bot.wait_job(job_id, JobState.DELIVERED)
    result = fake.message(status.id)
    clock.advance(COOLDOWN + 1)

    # The owner and a moderator both open Edit on the same result.
    owner_click = await fake.click(f"cc:edit:{job_id}", result, user=fake.user)
    moderator_click = await fake.click(f"cc:edit:{job_id}", result, user=fake.moderator)
    await owner_click
    await moderator_click
    owner_form = owner_click.modal["custom_id"]
    moderator_form = moderator_click.modal["custom_id"]
    assert owner_form != moderator_form
    prompt = modal_inputs(owner_click.modal)["prompt"]
    assert prompt["value"] == "a red fox in snow"

    # The moderator submits first, then the owner: neither form replaced the other.
    by_moderator = await fake.modal_submit(
        moderator_form, {prompt["custom_id"]: "a grey fox in snow"}, user=fake.moderator
    )
    by_owner = await fake.modal_submit(
        owner_form, {prompt["custom_id"]: "a blue fox in snow"}, user=fake.user
    )
    made = {}
    for record, user in ((by_moderator, fake.moderator), (by_owner, fake.user)):
        edited = await bot.wait_job(job_id_of(await status_of(fake, record)), JobState.DELIVERED)
        assert edited.user_id == int(user.id)
        made[edited.params["prompt"]] = edited
    assert set(made) == {"a grey fox in snow", "a blue fox in snow"}
    negative = (await bot.engine.jobs.get(job_id)).params["negative"]
    assert [j.params["negative"] for j in made.values()] == [negative, negative]

    # A form answers only the member it was opened for.
    stolen = await fake.modal_submit(owner_form, {prompt["custom_id"]: "mine now"}, user=fake.moderator)
    assert "This form was opened by someone else" in await reply_of(fake, stolen)
    prompts = [j.params["prompt"] for j in await bot.engine.jobs.list_by_user(int(fake.moderator.id))]
    assert prompts == ["a grey fox in snow"]
