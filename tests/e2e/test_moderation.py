"""/mod and /quota end to end: the real discord.py against the fake Discord, fake ComfyUI, real SQLite."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.jobmodel.states import JobState
from bot.moderation import MANAGE_MESSAGES, AuditAction, utc_day
from tests.e2e.harness import BotUnderTest
from tests.e2e.moderation_support import (
    MODERATOR_ONLY,
    MovableClock,
    eventually,
    mod,
    reply_of,
    run_job,
    set_setting,
    text_of,
)

# Every /mod subcommand with options a member could send.
SUBCOMMANDS = [
    ("settings show", {}),
    ("settings set", {"key": "daily_jobs", "value": "1"}),
    ("settings reset", {"key": "daily_jobs"}),
    ("terms add", {"list": "blocked_terms", "terms": "dragon"}),
    ("terms remove", {"list": "blocked_terms", "terms": "dragon"}),
    ("ban", "MODERATOR"),
    ("unban", "MODERATOR"),
    ("bans", {}),
    ("log", {}),
    ("queue", {}),
    ("cancel", {"job": "ABCD1234"}),
    ("purge", "MODERATOR"),
    ("stats", {}),
]


async def test_mod_is_one_guild_only_group_hinted_to_message_managers(bot: BotUnderTest) -> None:
    fake = bot.fake
    group = fake.find_command("mod")
    assert group is not None
    assert int(group["default_member_permissions"]) == MANAGE_MESSAGES
    assert group.get("contexts") == [0] or group.get("dm_permission") is False
    subcommands = {o["name"] for o in group["options"]}
    assert subcommands == {
        "settings",
        "terms",
        "ban",
        "unban",
        "bans",
        "log",
        "queue",
        "cancel",
        "purge",
        "stats",
    }
    settings = next(o for o in group["options"] if o["name"] == "settings")
    assert {o["name"] for o in settings["options"]} == {"show", "set", "reset"}
    quota = fake.find_command("quota")
    assert quota is not None
    assert quota.get("default_member_permissions") is None


async def test_every_subcommand_refuses_a_member_even_when_discord_lets_them_in(bot: BotUnderTest) -> None:
    fake = bot.fake
    # A server admin opened /mod to everyone in the integration settings: Discord would now let alice
    # invoke it (the fake never filters by permissions); the bot's own check must still refuse.
    fake.find_command("mod")["default_member_permissions"] = None  # type: ignore[index]
    for name, options in SUBCOMMANDS:
        opts = {"user": fake.moderator} if options == "MODERATOR" else options
        answer = await mod(fake, name, opts, user=fake.user)  # type: ignore[arg-type]
        assert MODERATOR_ONLY in answer, (name, answer)
    # Nothing happened.
    moderation = bot.app.bot.controller.moderation  # type: ignore[union-attr]
    assert (await moderation.policy(int(fake.guild.id))).daily_jobs == 100
    assert await moderation.bans.active_ban(int(fake.guild.id), int(fake.moderator.id)) is None
    assert await moderation.audit.recent() == []


async def test_a_role_in_moderator_roles_makes_a_moderator(bot: BotUnderTest) -> None:
    fake = bot.fake
    helper_role = fake.create_role(fake.guild, "Helpers")
    carol = fake.create_user("carol")
    fake.add_member(fake.guild, carol, roles=[helper_role])
    await fake.dispatch_guild_create(fake.guild)
    assert MODERATOR_ONLY in await mod(fake, "stats", user=carol)
    await set_setting(fake, "moderator_roles", f"<@&{helper_role.id}>")
    answer = await mod(fake, "stats", user=carol)
    assert "Bot statistics" in answer
    assert "Image servers" in answer


async def test_settings_set_show_reset_round_trip_with_clear_errors(bot: BotUnderTest) -> None:
    fake = bot.fake
    await set_setting(fake, "mod_log_channel", fake.mod_channel.mention)
    assert "100 → 5" in await set_setting(fake, "daily_jobs", "5")
    one = await mod(fake, "settings show", {"key": "daily_jobs"})
    assert "Value: 5" in one
    assert "Default: 100" in one
    everything = await mod(fake, "settings show")
    assert "daily_jobs (changed)" in everything
    assert "cooldown_seconds: 10 seconds" in everything

    bad = await mod(fake, "settings set", {"key": "daily_jobs", "value": "lots"})
    assert "`daily_jobs`: expected a whole number from 0 to 1000000, 0 = no limit, got 'lots'." in bad
    unknown = await mod(fake, "settings set", {"key": "daily_job", "value": "3"})
    assert "there is no such setting. Did you mean `daily_jobs`?" in unknown
    regex = await mod(fake, "settings set", {"key": "blocked_terms", "value": "re:nude(?!s)"})
    assert "cannot be used: look-ahead such as (?=...) or (?!...) is not supported" in regex
    ages = await mod(fake, "settings set", {"key": "review_terms", "value": r"re:\d{1,2}\s?y/?o"})
    assert "`review_terms`: none → `re:\\d{1,2}\\s?y/?o`" in ages, ages

    reset = await mod(fake, "settings reset", {"key": "daily_jobs"})
    assert "back to its default: 100 (was 5)" in reset
    assert "already has its default" in await mod(fake, "settings reset", {"key": "daily_jobs"})

    record = await fake.autocomplete("mod settings set", {"key": "daily"}, user=fake.moderator)
    await record
    assert [c["value"] for c in record.choices] == ["daily_jobs", "daily_gpu_seconds"]

    moderation = bot.app.bot.controller.moderation  # type: ignore[union-attr]
    changes = await moderation.audit.recent(action=AuditAction.SETTING_CHANGE)
    assert [e.details["key"] for e in changes] == [
        "daily_jobs",
        "review_terms",
        "daily_jobs",
        "mod_log_channel",
    ]
    assert all(e.actor_id == int(fake.moderator.id) for e in changes)
    posted = [m.content for m in fake.channel_messages(fake.mod_channel)]
    assert len(posted) == 4, posted
    assert "set `mod_log_channel`: none → " in posted[0]
    assert f"{fake.moderator.mention} set `daily_jobs`: 100 → 5" in posted[1]
    assert "set `review_terms`: none → `re:\\d{1,2}\\s?y/?o`" in posted[2]
    assert "reset `daily_jobs`: 5 → 100" in posted[3]


async def test_quota_runs_out_and_comes_back_at_the_utc_day_boundary(
    bot: BotUnderTest, clock: MovableClock
) -> None:
    bot, fake = bot, bot.fake
    await set_setting(fake, "daily_jobs", "2")
    await set_setting(fake, "cooldown_seconds", "0")
    clock.just_before_midnight(120)
    quota = await reply_of(fake, await fake.slash("quota"))
    assert "Jobs today:** 2 of 2 left (resets at 00:00 UTC, in 2 minutes)" in quota
    assert "Queue:** 0 of 3 slots in use" in quota
    assert "Cooldown:** none" in quota
    for _ in range(2):
        _, job_id = await run_job(fake)
        await bot.wait_job(job_id, JobState.DELIVERED)
    quota = await reply_of(fake, await fake.slash("quota"))
    assert "Jobs today:** 0 of 2 left" in quota
    refused = await fake.slash("imagine", {"prompt": "one more"})
    answer = await reply_of(fake, refused)
    assert "You've used all 2 of your jobs for today. The quota resets at 00:00 UTC, in 2 minutes." in answer
    assert len(await bot.engine.jobs.recent_for_user(int(fake.user.id))) == 2

    clock.advance(121)  # a new UTC day
    quota = await reply_of(fake, await fake.slash("quota"))
    assert "Jobs today:** 2 of 2 left" in quota
    _, job_id = await run_job(fake)
    await bot.wait_job(job_id, JobState.DELIVERED)


async def test_quota_shows_cooldown_queue_gpu_time_and_lane(bot: BotUnderTest) -> None:
    fake = bot.fake
    booster = fake.create_role(fake.guild, "Booster")
    fake.add_member(fake.guild, fake.user, roles=[booster])
    await fake.dispatch_guild_create(fake.guild)
    await set_setting(fake, "daily_gpu_seconds", "600")
    await set_setting(fake, "role_overrides", f"<@&{booster.id}> lane=priority daily_jobs=300")
    _, job_id = await run_job(fake)
    job = await bot.wait_job(job_id, JobState.DELIVERED)
    moderation = bot.app.bot.controller.moderation  # type: ignore[union-attr]

    used = job.finished_at - job.started_at

    async def charged() -> float:
        usage = await moderation.quotas.get_usage(int(fake.guild.id), int(fake.user.id), utc_day(time.time()))
        return usage.gpu_seconds

    await eventually(charged)
    assert await charged() == pytest.approx(used)
    quota = await reply_of(fake, await fake.slash("quota"))
    assert "Jobs today:** 299 of 300 left" in quota
    assert f"GPU time today:** {600 - used:.0f} of 600 seconds left" in quota
    assert "Cooldown:** wait" in quota
    assert "(10 s between requests)" in quota
    assert "Lane:** priority" in quota
    moderator = await reply_of(fake, await fake.slash("quota", user=fake.moderator))
    assert "As a moderator you are exempt from these limits." in moderator


async def test_ban_cancels_open_jobs_and_refuses_later_commands_until_unbanned(
    fake_discord, tmp_path: Path
) -> None:
    # No image server is reachable, so jobs stay queued.
    bot = BotUnderTest(fake_discord, tmp_path / "data", ["http://127.0.0.1:9"], wait_backends=False)
    await bot.start()
    try:
        fake = bot.fake
        await set_setting(fake, "cooldown_seconds", "0")
        await set_setting(fake, "mod_log_channel", fake.mod_channel.mention)
        first, first_id = await run_job(fake)
        _, second_id = await run_job(fake)
        assert (await bot.engine.jobs.get(first_id)).state is JobState.QUEUED

        bad = await mod(fake, "ban", {"user": fake.user, "duration": "soon"})
        assert "`soon` is not a duration" in bad
        assert MODERATOR_ONLY not in bad
        answer = await mod(fake, "ban", {"user": fake.user, "duration": "2h", "reason": "spamming the queue"})
        assert f"Banned {fake.user.mention} until <t:" in answer
        assert "(2 h 00 min from now)" in answer
        assert "Cancelled 2 of their open job(s)." in answer
        for job_id in (first_id, second_id):
            job = await bot.engine.jobs.get(job_id)
            assert job.state is JobState.CANCELLED
            assert job.failure_reason == "Cancelled because of a ban."
        await fake.wait_for(lambda: "Cancelled" in text_of(fake.message(first.id)))

        refused = await reply_of(fake, await fake.slash("imagine", {"prompt": "let me in"}))
        assert "You are banned from using the bot here until" in refused
        assert "(2 h 00 min from now). Reason: spamming the queue" in refused
        reroll = await fake.slash("quota")
        assert "You are banned" in await reply_of(fake, reroll)

        bans = await mod(fake, "bans")
        assert fake.user.mention in bans
        assert "spamming the queue" in bans
        assert "by " + fake.moderator.mention in bans
        assert MODERATOR_ONLY in await mod(fake, "unban", {"user": fake.user}, user=fake.user)
        assert "Lifted the ban" in await mod(fake, "unban", {"user": fake.user})
        assert "is not banned here" in await mod(fake, "unban", {"user": fake.user})
        _, again = await run_job(fake)
        assert (await bot.engine.jobs.get(again)).state is JobState.QUEUED

        history = await mod(fake, "log", {"user": fake.user})
        for word in ("**ban**", "**purge**", "**unban**", "2 job(s)"):
            assert word in history, history
        posted = [m.content for m in fake.channel_messages(fake.mod_channel)]
        assert any(
            "banned" in p and fake.user.mention in p and "2 open job(s) cancelled" in p for p in posted
        )
        assert any("lifted the ban" in p for p in posted)
    finally:
        await bot.stop()


async def test_queue_cancel_purge_and_stats(fake_discord, tmp_path: Path) -> None:
    bot = BotUnderTest(fake_discord, tmp_path / "data", ["http://127.0.0.1:9"], wait_backends=False)
    await bot.start()
    try:
        fake = bot.fake
        await set_setting(fake, "cooldown_seconds", "0")
        _, a = await run_job(fake, options={"prompt": "first"})
        _, b = await run_job(fake, options={"prompt": "second"})
        _, c = await run_job(fake, options={"prompt": "by bob"}, user=fake.moderator)

        everyone = await mod(fake, "queue")
        assert all(f"`{j}`" in everyone for j in (a, b, c))
        assert "position 1" in everyone
        alices = await mod(fake, "queue", {"user": fake.user})
        assert f"`{a}`" in alices
        assert f"`{c}`" not in alices
        assert "No jobs match." in await mod(fake, "queue", {"state": "done"})

        assert "There is no job `ZZZZZZZZ` in this server." in await mod(fake, "cancel", {"job": "ZZZZZZZZ"})
        assert f"Cancelled job `{a}`" in await mod(fake, "cancel", {"job": a.lower()})
        assert "already cancelled" in await mod(fake, "cancel", {"job": a})
        purged = await mod(fake, "purge", {"user": fake.user})
        assert f"Cancelled 1 open job(s) of {fake.user.mention}: `{b}`" in purged
        assert "has no open jobs here" in await mod(fake, "purge", {"user": fake.user})
        assert (await bot.engine.jobs.get(c)).state is JobState.QUEUED

        cancelled = await mod(fake, "queue", {"state": "cancelled"})
        assert f"`{a}`" in cancelled
        assert f"`{b}`" in cancelled
        stats = await mod(fake, "stats")
        assert "queued: 1, cancelled: 2" in stats
        assert "Today (UTC): 3 job(s)" in stats
        assert "🔴" in stats
        log = await mod(fake, "log")
        assert "**cancel**" in log
        assert "**purge**" in log
    finally:
        await bot.stop()
