"""Prompt filters on every path that starts a job, the age-restricted channel rule, and output
screening (with a stand-in classifier: NudeNet is an optional extra)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.jobmodel.states import JobState
from bot.moderation import AuditAction, ScreeningResult
from tests.e2e.harness import BotUnderTest, png, workflows_copy
from tests.e2e.moderation_support import (
    MODERATOR_ONLY,
    labels,
    mod,
    modal_inputs,
    reply_of,
    run_job,
    set_setting,
    text_of,
)
from tests.e2e.moderation_support import (
    field as field_of,
)

REFUSAL = "Your `prompt` contains a blocked term. Please rephrase it and try again."


def moderation_of(bot: BotUnderTest):
    return bot.app.bot.controller.moderation  # type: ignore[union-attr]


def said(fake, record) -> str:
    """Everything the bot posted for one interaction (placeholder, response, followups), deleted too."""
    messages = [record.original_message, *record.followups]
    parts = [text_of(m) for m in messages if m is not None]
    parts += [str(snapshot) for m in messages if m is not None for snapshot in m.history]
    return "\n".join(parts)


async def test_a_blocked_term_is_refused_on_every_path_without_echoing_it(bot: BotUnderTest) -> None:
    fake = bot.fake
    await set_setting(fake, "cooldown_seconds", "0")
    fox, fox_id = await run_job(fake, options={"prompt": "a red fox in snow"})
    old, old_id = await run_job(fake, options={"prompt": "a sleeping dragon"})
    await bot.wait_job(fox_id, JobState.DELIVERED)
    await bot.wait_job(old_id, JobState.DELIVERED)
    await set_setting(fake, "blocked_terms", "dragon*")
    jobs_before = len(await bot.engine.jobs.recent_for_user(int(fake.user.id), limit=50))

    # The slash command.
    record = await fake.slash("imagine", {"prompt": "A red DRAGON"})
    assert await reply_of(fake, record) == REFUSAL
    assert "dragon" not in said(fake, record).casefold()

    # Edit: the form is prefilled from the old job; the member types the term into it.
    opened = await fake.click(f"cc:edit:{fox_id}", fox, user=fake.user)
    await opened
    prompt_input = modal_inputs(opened)["prompt"]
    edited = await fake.modal_submit(opened.modal["custom_id"], {prompt_input: "a red fox and a dragon"})
    assert await reply_of(fake, edited) == REFUSAL
    assert "dragon" not in said(fake, edited).casefold()

    # Re-roll of a job from before the term was added.
    reroll = await fake.click(f"cc:reroll:{old_id}", old, user=fake.user)
    assert await reply_of(fake, reroll) == REFUSAL
    assert "dragon" not in said(fake, reroll).casefold()

    assert len(await bot.engine.jobs.recent_for_user(int(fake.user.id), limit=50)) == jobs_before
    blocks = await moderation_of(bot).audit.recent(action=AuditAction.FILTER_BLOCK)
    assert len(blocks) == 3
    assert {(e.details["param"], e.details["term"]) for e in blocks} == {
        ("prompt", "dragon* (blocked_terms)")
    }
    # Moderators do see the term, in /mod log.
    record = await fake.slash("mod log", {"user": fake.user}, user=fake.moderator)
    assert "matched dragon* (blocked_terms)" in await reply_of(fake, record)


async def test_mod_terms_add_and_remove_with_the_age_patterns_moderators_write(bot: BotUnderTest) -> None:
    fake = bot.fake
    await set_setting(fake, "cooldown_seconds", "0")
    await set_setting(fake, "mod_log_channel", fake.mod_channel.mention)
    added = await mod(
        fake, "terms add", {"list": "blocked_terms", "terms": "dragon*, re:\\d{1,2}\\s?y/?o, child porn*"}
    )
    assert added == (
        "Added to `blocked_terms`: `dragon*`, `re:\\d{1,2}\\s?y/?o`, `child porn*`. It has 3 term(s) now."
    )
    for prompt in ("a 12yo girl", "a 9 y/o", "two DR4G0NS"):
        assert await reply_of(fake, await fake.slash("imagine", {"prompt": prompt})) == REFUSAL, prompt

    refused = await mod(fake, "terms add", {"list": "review_terms", "terms": "swimsuit, re:nude(?!s)"})
    assert "The term `re:nude(?!s)` cannot be used: look-ahead such as (?=...)" in refused
    assert (await moderation_of(bot).policy(int(fake.guild.id))).review_terms == ()

    removed = await mod(fake, "terms remove", {"list": "blocked_terms", "terms": "DRAGON*"})
    assert removed == "Removed from `blocked_terms`: `dragon*`. It has 2 term(s) now."
    _, job_id = await run_job(fake, options={"prompt": "two dragons"})
    await bot.wait_job(job_id, JobState.DELIVERED)
    missing = await mod(fake, "terms remove", {"list": "blocked_terms", "terms": "dragon*"})
    assert "`blocked_terms`: not in the list: dragon*." in missing

    posted = [m.content for m in fake.channel_messages(fake.mod_channel)]
    assert any("added to `blocked_terms`: `dragon*`" in p for p in posted), posted
    assert any("removed from `blocked_terms`: `dragon*`" in p for p in posted), posted
    changes = await moderation_of(bot).audit.recent(action=AuditAction.SETTING_CHANGE)
    assert changes[0].details["key"] == "blocked_terms"


async def test_moderators_are_not_exempt_from_blocked_terms(bot: BotUnderTest) -> None:
    fake = bot.fake
    await set_setting(fake, "blocked_terms", "forbidden phrase")
    record = await fake.slash("imagine", {"prompt": "a Forbidden  phrase"}, user=fake.moderator)
    assert await reply_of(fake, record) == REFUSAL


@pytest.fixture
async def nsfw_bot(fake_discord, fake_comfy, tmp_path: Path):
    def make_invert_nsfw(name: str, text: str) -> str:
        if name == "invert.toml":
            return text.replace('name = "invert"\n', 'name = "invert"\nnsfw = true\n')
        return text

    workflows = workflows_copy(tmp_path / "workflows", make_invert_nsfw)
    under_test = BotUnderTest(
        fake_discord, tmp_path / "data", [fake_comfy.base_url], env={"WORKFLOWS_DIR": str(workflows)}
    )
    await under_test.start()
    yield under_test
    await under_test.stop()


async def test_an_nsfw_template_only_runs_in_age_restricted_channels(nsfw_bot: BotUnderTest) -> None:
    bot, fake = nsfw_bot, nsfw_bot.fake
    assert fake.find_command("invert")["nsfw"] is True  # type: ignore[index]
    image = [("in.png", png(), "image/png")]
    record = await fake.slash("invert", {}, attachments=image)
    assert await reply_of(fake, record) == "`/invert` can only be used in age-restricted (NSFW) channels."
    moderator = await fake.slash("invert", {}, attachments=image, user=fake.moderator)
    assert "age-restricted" in await reply_of(fake, moderator)
    _, job_id = await run_job(fake, "invert", {}, channel=fake.nsfw_channel, attachments=image)
    await bot.wait_job(job_id, JobState.DELIVERED)


# --- output screening ---------------------------------------------------------------------------------


@dataclass
class StandInScreener:
    """Judges every image NSFW; counts what it saw."""

    name: str = "stand-in"
    seen: list[int] = field(default_factory=list)

    def classify(self, image: bytes) -> ScreeningResult:
        self.seen.append(len(image))
        return ScreeningResult(nsfw=True, score=0.93, labels=("FEMALE_BREAST_EXPOSED",))


@pytest.fixture
def screener(monkeypatch: pytest.MonkeyPatch) -> StandInScreener:
    stand_in = StandInScreener()
    monkeypatch.setattr("bot.app.load_screener", lambda: (stand_in, "output screening is on (stand-in)"))
    return stand_in


async def test_spoiler_action_marks_results_and_age_restricted_channels_are_not_screened(
    screener: StandInScreener, bot: BotUnderTest
) -> None:
    fake = bot.fake
    await set_setting(fake, "nsfw_output_action", "spoiler")
    await set_setting(fake, "cooldown_seconds", "0")
    status, job_id = await run_job(fake)
    await bot.wait_job(job_id, JobState.DELIVERED)
    names = fake.message(status.id).attachment_names
    assert names
    assert all(n.startswith("SPOILER_") for n in names)
    assert len(screener.seen) == len(names)
    [entry] = await moderation_of(bot).audit.recent(action=AuditAction.OUTPUT_SCREENED)
    assert entry.details == {"action": "spoiler", "score": 0.93, "labels": ["FEMALE_BREAST_EXPOSED"]}

    status, job_id = await run_job(fake, channel=fake.nsfw_channel)
    await bot.wait_job(job_id, JobState.DELIVERED)
    assert not any(n.startswith("SPOILER_") for n in fake.message(status.id).attachment_names)
    assert len(screener.seen) == len(names), "results for an age-restricted channel are not classified"


async def test_block_action_withholds_the_results_with_a_reason(
    screener: StandInScreener, bot: BotUnderTest
) -> None:
    fake = bot.fake
    status, job_id = await run_job(fake)
    await bot.wait_job(job_id, JobState.WITHHELD)
    final = await fake.wait_for(
        lambda: "Result withheld" in text_of(fake.message(status.id)) and fake.message(status.id)
    )
    assert final.attachments == []
    assert "unsuitable for this channel" in text_of(final)
    assert final.components == []
    # /show must not get around the block.
    shown = await fake.slash("show", {"job": job_id})
    assert f"The result of job `{job_id}` was withheld" in await reply_of(fake, shown)


async def test_review_action_holds_results_until_a_moderator_releases_them(
    screener: StandInScreener, bot: BotUnderTest
) -> None:
    fake = bot.fake
    await set_setting(fake, "review_channel", fake.mod_channel.mention)
    await set_setting(fake, "nsfw_output_action", "review")
    await set_setting(fake, "cooldown_seconds", "0")
    status, job_id = await run_job(fake)
    await bot.wait_job(job_id, JobState.HELD)
    held = await fake.wait_for(
        lambda: next(
            (m for m in fake.channel_messages(fake.mod_channel) if "Output check" in text_of(m)), None
        )
    )
    assert labels(held) == ["Release", "Discard"]
    assert held.attachment_names
    assert all(n.startswith("SPOILER_") for n in held.attachment_names)
    waiting = await fake.wait_for(
        lambda: "check the result" in text_of(fake.message(status.id)) and fake.message(status.id)
    )
    assert waiting.attachments == []

    for action in ("release", "discard"):
        member = await fake.click(f"cc:out:{action}:{job_id}", held, user=fake.user)
        assert MODERATOR_ONLY in await reply_of(fake, member)
    assert labels(fake.message(held.id)) == ["Release", "Discard"]
    carol = fake.create_user("carol")
    fake.add_member(fake.guild, carol, roles=[fake.moderator_role])
    clicks = [await fake.click(f"cc:out:release:{job_id}", held, user=u) for u in (fake.moderator, carol)]
    answers = sorted(await asyncio.gather(*(reply_of(fake, c) for c in clicks)))
    [entry] = await moderation_of(bot).audit.recent(action=AuditAction.OUTPUT_RELEASE)
    assert answers == [f"Already decided — ✅ Released by <@{entry.actor_id}>.", "Released."]
    released = await fake.wait_for(lambda: fake.message(status.id).attachments and fake.message(status.id))
    assert not any(n.startswith("SPOILER_") for n in released.attachment_names)
    assert "Re-roll" in labels(released)
    decided = fake.message(held.id)
    assert decided.components == []
    assert field_of(decided, "Decision") == f"✅ Released by <@{entry.actor_id}>"
    assert len([m for m in fake.channel_messages(fake.channel) if m.id == status.id]) == 1

    await bot.wait_job(job_id, JobState.DELIVERED)

    # A second request, discarded.
    status, job_id = await run_job(fake)
    await bot.wait_job(job_id, JobState.HELD)
    held = await fake.wait_for(
        lambda: next(
            (m for m in fake.channel_messages(fake.mod_channel) if f"job {job_id}" in text_of(m)), None
        )
    )
    discard = await fake.click(f"cc:out:discard:{job_id}", held, user=fake.moderator)
    assert await reply_of(fake, discard) == "Discarded."
    await fake.wait_for(lambda: "decided not to post it" in text_of(fake.message(status.id)))
    assert fake.message(status.id).attachments == []
    assert (await bot.engine.jobs.get(job_id)).state is JobState.WITHHELD
    actions = [e.action for e in await moderation_of(bot).audit.recent()]
    assert AuditAction.OUTPUT_RELEASE in actions
    assert AuditAction.OUTPUT_DISCARD in actions
