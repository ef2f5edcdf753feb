"""Owners manage workflows from Discord, live (issue 21), under the DEFAULT moderation settings: add,
check, try, publish, a member runs it, edit while jobs of the old version wait and run, retire; broken
uploads; the folder changed and broken on disk while the bot runs; nobody else may touch templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.discord_ui.command_sync import SyncPolicy
from bot.jobmodel.states import JobState
from bot.jobs.template_manager import TemplateAudit
from bot.moderation import GuildPolicy
from bot.moderation.access import OWNERS_ONLY, TEMPLATE_MANAGERS_ONLY
from bot.templates import load_templates_lenient
from tests.e2e.harness import BotUnderTest, button_labels, job_id_of, png, status_of, workflows_copy
from tests.e2e.moderation_support import MovableClock, reply_of
from tests.e2e.template_support import (
    SKETCH_TOML,
    command_syncs,
    dms_to,
    prompt_graphs,
    sketch_json,
    template_command,
    until,
    upload,
    write_file,
)

DEFAULTS = GuildPolicy()


@pytest.fixture
def workflows(tmp_path: Path) -> Path:
    return workflows_copy(tmp_path / "workflows")


@pytest.fixture
def bot_env(workflows: Path, fake_discord: Any) -> dict[str, str]:
    return {
        "WORKFLOWS_DIR": str(workflows),
        "WORKFLOWS_POLL_SECONDS": "0.05",
        "OWNER_IDS": fake_discord.owner.id,
        "COMFYUI_MAX_IN_FLIGHT": "1",  # a second job waits in the bot's queue, not inside ComfyUI
    }


@pytest.fixture
def bot_options() -> dict[str, Any]:
    return {"sync_policy": SyncPolicy(settle=0.05, first_retry=0.05)}


def manager(bot: BotUnderTest) -> Any:
    assert bot.app is not None
    assert bot.app.templates is not None
    return bot.app.templates


async def run_command(bot: BotUnderTest, name: str, options: dict[str, Any], user: Any) -> str:
    record = await bot.fake.slash(name, options, user=user)
    return job_id_of(await status_of(bot.fake, record))


async def test_add_check_try_publish_run_edit_and_retire(
    bot: BotUnderTest, fake_comfy: Any, workflows: Path, clock: MovableClock
) -> None:
    fake = bot.fake
    syncs = len(command_syncs(fake))

    # add: a draft, in drafts/, with no command yet
    answer, _ = await template_command(
        fake,
        "add",
        {
            "workflow": upload("sketch.json", sketch_json(cfg=8.0)),
            "manifest": upload("sketch.toml", SKETCH_TOML, "application/toml"),
        },
    )
    assert "Added `/sketch` as a draft" in answer
    assert (workflows / "drafts" / "sketch.json").read_bytes() == sketch_json(cfg=8.0)
    assert (workflows / "drafts" / "sketch.toml").read_text() == SKETCH_TOML
    assert fake.find_command("sketch") is None
    first = manager(bot).library.version("sketch")
    assert first is not None

    # check: the same report as `comfycord check`, against the backend
    answer, _ = await template_command(fake, "check", {"name": "sketch"})
    assert "/sketch" in answer
    assert "prompt*:text steps:int seed:seed" in answer
    assert "backend GPU 1:" in answer
    assert "/sketch: ok" in answer

    # try: privately, in the owner's DM; the job belongs to no server
    answer, _ = await template_command(
        fake, "try", {"name": "sketch", "prompt": "a fox", "values": "steps=2"}
    )
    assert "Trying `/sketch` (draft) for you alone" in answer
    tried = await bot.wait_job(answer.split("job `")[1].split("`")[0], JobState.DELIVERED)
    dm = fake.dm_channel(fake.owner)
    assert (tried.guild_id, tried.channel_id, tried.template_version) == (None, int(dm.id), first)
    result = await until(lambda: next((m for m in dms_to(fake, fake.owner) if m.attachments), None))
    assert "Re-roll" in button_labels(result)
    assert not [m for m in fake.channel_messages(fake.channel) if m.attachments]  # nothing public

    # publish: the check passes, the command appears in one sync
    answer, _ = await template_command(fake, "publish", {"name": "sketch"})
    assert "Published `/sketch`" in answer
    await until(lambda: fake.find_command("sketch"), what="/sketch registered")
    assert len(command_syncs(fake)) == syncs + 1
    assert (workflows / "sketch.json").exists()
    assert not (workflows / "drafts" / "sketch.json").exists()

    # a member runs it
    job = await run_command(bot, "sketch", {"prompt": "a lighthouse"}, fake.user)
    assert (await bot.wait_job(job, JobState.DELIVERED)).template_version == first

    # edit while one job of the old version runs (held in ComfyUI) and another waits in the queue
    fake_comfy.pause()
    running = await run_command(bot, "sketch", {"prompt": "running"}, fake.moderator)
    await bot.wait_job(running, JobState.RUNNING)
    clock.advance(DEFAULTS.cooldown_seconds + 1)
    queued = await run_command(bot, "sketch", {"prompt": "waiting"}, fake.user)
    assert (await bot.wait_job(queued, JobState.QUEUED)).template_version == first
    answer, _ = await template_command(
        fake, "edit", {"name": "sketch", "workflow": upload("sketch.json", sketch_json(cfg=4.5))}
    )
    second = manager(bot).library.version("sketch")
    assert second not in (None, first)
    assert f"version `{first}` → `{second}`" in answer
    assert (workflows / "sketch.json").read_bytes() == sketch_json(cfg=4.5)
    carol = fake.create_user("carol")
    fake.add_member(fake.guild, carol)
    await fake.dispatch_guild_create(fake.guild)
    after = await run_command(bot, "sketch", {"prompt": "after the edit"}, carol)
    fake_comfy.resume()
    for job_id, version, cfg in ((running, first, 8.0), (queued, first, 8.0), (after, second, 4.5)):
        done = await bot.wait_job(job_id, JobState.DELIVERED)
        assert done.template_version == version
        [graph] = prompt_graphs(fake_comfy, job_id)
        assert graph["3"]["inputs"]["cfg"] == cfg, job_id

    # retire while a job runs: the command goes, the job finishes, old buttons say why they stop
    fake_comfy.pause()
    clock.advance(DEFAULTS.cooldown_seconds + 1)
    last = await run_command(bot, "sketch", {"prompt": "last one"}, carol)
    await bot.wait_job(last, JobState.RUNNING)
    answer, _ = await template_command(fake, "retire", {"name": "sketch"})
    assert "Retired `/sketch`" in answer
    assert "1 job(s) still waiting or running finish normally" in answer
    await until(lambda: fake.find_command("sketch") is None, what="/sketch removed")
    fake_comfy.resume()
    assert (await bot.wait_job(last, JobState.DELIVERED)).template_version == second
    assert (workflows / "retired" / "sketch.json").exists()
    assert not (workflows / "sketch.json").exists()
    clock.advance(DEFAULTS.cooldown_seconds + 1)
    message = fake.message((await bot.engine.jobs.get(after)).status_message.message_id)
    reroll = await fake.click(f"cc:reroll:{after}", message, user=carol)
    assert "`/sketch` was retired" in await reply_of(fake, reroll)

    # every change is in the audit log, with the files' hashes
    audit = await manager(bot).audit.recent(limit=100)
    actions = [e.action for e in reversed(audit) if e.action.startswith("template.")]
    assert actions == [
        TemplateAudit.ADD,
        TemplateAudit.TRY,
        TemplateAudit.PUBLISH,
        TemplateAudit.EDIT,
        TemplateAudit.RETIRE,
    ]
    edit = next(e for e in audit if e.action == TemplateAudit.EDIT)
    assert edit.actor_id == int(fake.owner.id)
    assert edit.details["version"] == second
    assert edit.details["previous"] == first
    assert set(edit.details["files"]) == {"sketch.json", "sketch.toml"}
    assert fake.stats.rate_limited == 0


async def test_a_broken_upload_is_refused_with_the_loaders_message(bot: BotUnderTest, tmp_path: Path) -> None:
    fake = bot.fake
    ui_export = '{"nodes": [{"id": 1, "type": "KSampler"}], "links": [], "version": 0.4}'
    answer, _ = await template_command(fake, "add", {"workflow": upload("ui.json", ui_export)})
    folder = tmp_path / "check"
    folder.mkdir()
    (folder / "ui.json").write_text(ui_export)
    [problem] = load_templates_lenient(folder)[1]  # what `comfycord check` says about that file
    assert problem.message in answer
    assert "UI-format export" in answer

    bad_manifest = SKETCH_TOML.replace('target = "KSampler.steps"', 'target = "KSampler.stepz"')
    answer, _ = await template_command(
        fake,
        "add",
        {"workflow": upload("sketch.json", sketch_json()), "manifest": upload("sketch.toml", bad_manifest)},
    )
    assert "drafts/sketch.toml" in answer
    assert "has no input 'stepz'" in answer

    huge = b"{" + b" " * (4 * 1024 * 1024) + b"}"
    answer, _ = await template_command(fake, "add", {"workflow": upload("huge.json", huge)})
    assert "the limit is 4.0 MiB (the WORKFLOW_MAX_MB setting)" in answer

    answer, _ = await template_command(fake, "add", {"workflow": upload("imagine.json", sketch_json())})
    assert "`imagine.json`" in answer
    assert "/template edit" in answer

    # nothing was written, nothing loaded
    assert manager(bot).library.drafts.names == ()
    assert not (bot.app.settings.workflows_dir / "drafts").exists()  # type: ignore[union-attr]


async def test_a_file_changed_on_disk_is_picked_up_and_synced_once(
    bot: BotUnderTest, workflows: Path
) -> None:
    fake = bot.fake
    syncs = len(command_syncs(fake))
    toml = workflows / "imagine.toml"
    write_file(toml, toml.read_text().replace("Draw an image from a text prompt", "Paint something"))
    await until(
        lambda: (fake.find_command("imagine") or {}).get("description") == "Paint something",
        what="the new description registered",
    )
    polls = manager(bot).polls
    await until(lambda: manager(bot).polls >= polls + 5, what="five more looks at the folder")
    assert len(command_syncs(fake)) == syncs + 1
    changed = await manager(bot).audit.recent(action=TemplateAudit.FOLDER)
    assert [e.details["name"] for e in changed] == ["imagine"]

    # the graph alone changed: a new version runs, the command looks the same, so no sync
    graph = workflows / "imagine.json"
    version = manager(bot).library.version("imagine")
    write_file(graph, graph.read_text().replace('"cfg": 8', '"cfg": 6'))
    await until(lambda: manager(bot).library.version("imagine") != version, what="the new graph loaded")
    polls = manager(bot).polls
    await until(lambda: manager(bot).polls >= polls + 5, what="five more looks at the folder")
    assert len(command_syncs(fake)) == syncs + 1


async def test_a_broken_file_keeps_its_last_good_version_and_the_owners_are_told(
    bot: BotUnderTest, workflows: Path, fake_comfy: Any
) -> None:
    fake = bot.fake
    graph = workflows / "imagine.json"
    good = graph.read_text()
    version = manager(bot).library.version("imagine")
    write_file(graph, good[:-40])  # cut short: invalid JSON

    told = await until(
        lambda: next((m for m in dms_to(fake, fake.owner) if "imagine.json" in m.content), None),
        what="the owner told",
    )
    assert "invalid JSON" in told.content
    assert "last good version meanwhile: /imagine" in told.content
    assert manager(bot).library.version("imagine") == version
    answer, _ = await template_command(fake, "list")
    assert "`/imagine`" in answer
    assert "files broken, last good version running" in answer

    # members keep the working command
    job = await run_command(bot, "imagine", {"prompt": "still works", "steps": 2}, fake.user)
    assert (await bot.wait_job(job, JobState.DELIVERED)).template_version == version

    write_file(graph, good)
    fixed = await until(
        lambda: next((m for m in dms_to(fake, fake.owner) if "are gone" in m.content), None),
        what="the owner told it is fixed",
    )
    assert "imagine.json" in fixed.content
    assert not manager(bot).library.catalog.problems


SUBCOMMANDS: list[tuple[str, dict[str, Any]]] = [
    ("add", {"workflow": upload("sketch.json", b"{}")}),
    ("check", {}),
    ("try", {"name": "imagine", "prompt": "a cat"}),
    ("publish", {"name": "imagine"}),
    ("list", {}),
    ("show", {"name": "imagine"}),
    ("edit", {"name": "imagine", "workflow": upload("imagine.json", b"{}")}),
    ("retire", {"name": "imagine"}),
    ("restore", {"name": "imagine"}),
    ("allow", {"role": "MODERATOR_ROLE"}),
    ("disallow", {"role": "MODERATOR_ROLE"}),
]


async def test_nobody_but_owners_and_allowed_roles_manages_templates(
    bot: BotUnderTest, workflows: Path
) -> None:
    fake = bot.fake
    group = fake.find_command("template")
    assert group is not None
    assert {o["name"] for o in group["options"]} == {name for name, _ in SUBCOMMANDS}
    # A server admin opened /template to everyone: Discord lets anybody invoke it now; the bot refuses.
    group["default_member_permissions"] = None
    before = sorted(p.name for p in workflows.rglob("*"))
    for user in (fake.user, fake.moderator):
        for name, options in SUBCOMMANDS:
            opts = {k: (fake.moderator_role if v == "MODERATOR_ROLE" else v) for k, v in options.items()}
            answer, _ = await template_command(fake, name, opts, user=user)
            expected = OWNERS_ONLY if name in ("allow", "disallow") else TEMPLATE_MANAGERS_ONLY
            assert expected in answer, (user.username, name, answer)
        # autocomplete tells them nothing either
        record = await fake.autocomplete("template show", {"name": ""}, user=user)
        await record
        assert record.choices == []
    assert sorted(p.name for p in workflows.rglob("*")) == before
    assert not [e for e in await manager(bot).audit.recent(limit=100) if e.action.startswith("template.")]
    assert not dms_to(fake, fake.user)
    assert not dms_to(fake, fake.moderator)

    # an owner allows the moderators' role: they manage templates, but may not allow others
    answer, _ = await template_command(fake, "allow", {"role": fake.moderator_role})
    assert "may now manage templates" in answer
    answer, _ = await template_command(fake, "list", user=fake.moderator)
    assert "**Published:**" in answer
    assert "`/imagine`" in answer
    answer, _ = await template_command(fake, "allow", {"role": fake.moderator_role}, user=fake.moderator)
    assert OWNERS_ONLY in answer
    answer, _ = await template_command(fake, "list", user=fake.user)
    assert TEMPLATE_MANAGERS_ONLY in answer


async def test_jobs_of_an_old_version_run_it_after_a_restart(
    bot: BotUnderTest, fake_comfy: Any, workflows: Path, clock: MovableClock
) -> None:
    fake = bot.fake
    fake_comfy.pause()
    running = await run_command(bot, "imagine", {"prompt": "held", "steps": 2}, fake.moderator)
    await bot.wait_job(running, JobState.RUNNING)
    queued = await run_command(bot, "imagine", {"prompt": "queued", "steps": 2}, fake.user)
    old = (await bot.wait_job(queued, JobState.QUEUED)).template_version
    graph = workflows / "imagine.json"
    write_file(graph, graph.read_text().replace('"denoise": 1', '"denoise": 0.75'))
    await until(lambda: manager(bot).library.version("imagine") != old, what="the edit loaded")

    await bot.restart()  # the new process knows the old version only from the database
    assert manager(bot).library.version("imagine") != old
    assert manager(bot).library.at_version("imagine", old) is not None
    fake_comfy.resume()
    for job_id in (running, queued):
        assert (await bot.wait_job(job_id, JobState.DELIVERED)).template_version == old
        assert {g["3"]["inputs"]["denoise"] for g in prompt_graphs(fake_comfy, job_id)} == {1}
    clock.advance(DEFAULTS.cooldown_seconds + 1)
    new = await run_command(bot, "imagine", {"prompt": "new", "steps": 2}, fake.user)
    await bot.wait_job(new, JobState.DELIVERED)
    assert [g["3"]["inputs"]["denoise"] for g in prompt_graphs(fake_comfy, new)] == [0.75]


async def test_restore_puts_the_previous_version_back(bot: BotUnderTest, workflows: Path) -> None:
    fake = bot.fake
    original = (workflows / "imagine.json").read_bytes()
    first = manager(bot).library.version("imagine")
    answer, _ = await template_command(
        fake, "edit", {"name": "imagine", "workflow": upload("imagine.json", sketch_json(cfg=3.0))}
    )
    second = manager(bot).library.version("imagine")
    assert f"`{first}` → `{second}`" in answer
    answer, _ = await template_command(fake, "show", {"name": "imagine"})
    assert f"`{second}`" in answer
    assert f"`{first}`" in answer
    assert "← current" in answer

    answer, _ = await template_command(fake, "restore", {"name": "imagine"})
    assert f"Restored `/imagine` to version `{first}` (it was `{second}`)" in answer
    assert manager(bot).library.version("imagine") == first
    assert (workflows / "imagine.json").read_bytes() == original
    answer, _ = await template_command(fake, "restore", {"name": "imagine", "version": second})
    assert manager(bot).library.version("imagine") == second
    answer, _ = await template_command(fake, "restore", {"name": "imagine", "version": "0000deadbeef"})
    assert "has no version `0000deadbeef`" in answer
    restores = await manager(bot).audit.recent(action=TemplateAudit.RESTORE)
    assert [e.details["version"] for e in reversed(restores)] == [first, second]


async def test_trying_with_direct_messages_closed_runs_nothing(bot: BotUnderTest) -> None:
    fake = bot.fake
    fake.owner.dms_open = False
    answer, _ = await template_command(fake, "try", {"name": "imagine", "prompt": "a cat"})
    assert "I can't send you direct messages, so nothing was run" in answer
    [job] = await bot.engine.jobs.list_by_user(int(fake.owner.id))
    assert job.state is JobState.CANCELLED
    assert not [e for e in await manager(bot).audit.recent() if e.action == TemplateAudit.TRY]


async def test_a_retired_command_discord_still_shows_is_answered_while_the_sync_lands(
    bot: BotUnderTest,
) -> None:
    fake = bot.fake
    held = fake.hold("PUT /applications/*/commands")
    answer, _ = await template_command(fake, "retire", {"name": "invert"})
    assert "Retired `/invert`" in answer
    await held.arrived.wait()  # the bot sent the new command set; Discord has not applied it yet
    record = await fake.slash("invert", {}, attachments=[("in.png", png(), "image/png")])
    assert "`/invert` is not available any more" in await reply_of(fake, record)
    held.release()
    await held.handled.wait()
    assert fake.find_command("invert") is None
    assert not await bot.engine.jobs.list_by_user(int(fake.user.id))


async def test_a_command_used_with_its_old_options_during_an_edit_is_answered(
    bot: BotUnderTest, workflows: Path
) -> None:
    fake = bot.fake
    toml = (workflows / "imagine.toml").read_text()
    required = toml.replace(
        'default = "blurry, low quality, bad hands"\n', "required = true\n"
    )  # a new required option
    assert required != toml
    held = fake.hold("PUT /applications/*/commands")
    answer, _ = await template_command(
        fake, "edit", {"name": "imagine", "manifest": upload("imagine.toml", required, "application/toml")}
    )
    assert "Updated `/imagine`" in answer
    await held.arrived.wait()
    record = await fake.slash("imagine", {"prompt": "old form"})  # Discord still has the old options
    assert "`/imagine` was just updated; run it again" in await reply_of(fake, record)
    held.release()
    await held.handled.wait()
    options = {o["name"]: o for o in fake.find_command("imagine")["options"]}  # type: ignore[index]
    assert options["negative"]["required"] is True


async def test_problems_told_before_a_restart_are_not_told_again(bot: BotUnderTest, workflows: Path) -> None:
    fake = bot.fake
    write_file(workflows / "broken.json", "{")
    await until(
        lambda: [m for m in dms_to(fake, fake.owner) if "broken.json" in m.content], what="the owner told"
    )
    app = await bot.restart()
    assert app.bot is not None
    app.bot.owner_notices.tell("sentinel")  # queued after anything the restart had to say
    await until(lambda: [m for m in dms_to(fake, fake.owner) if m.content == "sentinel"], what="sentinel")
    assert len([m for m in dms_to(fake, fake.owner) if "broken.json" in m.content]) == 1

    write_file(workflows / "other.json", "[")  # a new problem is told, after a restart too
    await until(
        lambda: [m for m in dms_to(fake, fake.owner) if "other.json" in m.content],
        what="the new problem told",
    )
