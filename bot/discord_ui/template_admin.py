"""``/template``: the owners manage workflows from Discord, live (add, check, try, publish, list, show,
edit, retire, restore; allow and disallow roles).

Who may: the bot's owners, and in a server the roles an owner allowed there (``TemplateAccess``, the
rule in ``bot.moderation.access``). ``default_permissions`` only hides the command from most members;
a server admin can open it to everyone and nobody else gets in, because every subcommand and every
autocomplete asks the rule. Answers are private. Uploaded files are capped at WORKFLOW_MAX_MB before
they are downloaded, then loaded by the same loader as the folder; nothing uploaded is ever executed
by the bot (a workflow is JSON it sends to ComfyUI; a manifest is TOML it reads).
"""

from __future__ import annotations

import io
import logging
import shlex
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Final

import discord
from discord import app_commands

from bot.discord_ui.access import TemplateAccess
from bot.discord_ui.attachments import read_attachment
from bot.discord_ui.presenter import describe, reply
from bot.discord_ui.template_report import AREA_WORDS, check_report, show_text
from bot.errors import InvalidInput, TemplateError
from bot.jobmodel.states import OPEN_STATES
from bot.jobs.planning import Attachment
from bot.jobs.template_manager import TemplateAudit, TemplateManager
from bot.moderation.access import Allow, TemplateAction
from bot.templates import ParamType, Template
from bot.templates.folder import Area
from bot.templates.loader import size_problem

if TYPE_CHECKING:
    from bot.discord_ui.controller import Controller

log = logging.getLogger(__name__)

NO_PINGS: Final = discord.AllowedMentions.none()
MESSAGE_LIMIT: Final = 2000
CODE_LIMIT: Final = 1800
ATTACHED_FILES_LIMIT: Final = 8 * 1024 * 1024


@dataclass(frozen=True)
class Answer:
    """A private answer: text, and files when the text does not fit or the files are asked for."""

    text: str
    files: Sequence[tuple[str, bytes]] = field(default=())


class TemplateCommands:
    """The handlers behind ``/template`` (the command object: ``template_commands``)."""

    def __init__(
        self,
        controller: Controller,
        manager: TemplateManager,
        access: TemplateAccess,
        *,
        max_attachment_bytes: int = 25 * 1024 * 1024,
    ) -> None:
        self.controller = controller
        self.manager = manager
        self.access = access
        self.max_attachment_bytes = max_attachment_bytes

    async def run(
        self,
        interaction: discord.Interaction[Any],
        handler: Callable[..., Awaitable[Answer | str]],
        *args: Any,
        action: TemplateAction = TemplateAction.MANAGE,
    ) -> None:
        """Acknowledge privately, ask the rule, run ``handler`` and show its answer or the error."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            await self.access.require(interaction, action)
            answer = await handler(interaction, *args)
            if isinstance(answer, str):
                answer = Answer(answer)
            files = [discord.File(io.BytesIO(data), filename=name) for name, data in answer.files]
            await interaction.followup.send(
                answer.text[:MESSAGE_LIMIT], files=files, ephemeral=True, allowed_mentions=NO_PINGS
            )
        except Exception as exc:
            await reply(interaction, describe(exc))

    # --- add, edit --------------------------------------------------------------------------------

    async def _upload(self, attachment: discord.Attachment | None, suffix: str) -> bytes | None:
        """An uploaded template file, size-checked before it is downloaded."""
        if attachment is None:
            return None
        if not attachment.filename.lower().endswith(suffix):
            kind = "the API-format export (.json)" if suffix == ".json" else "the manifest (.toml)"
            raise InvalidInput(f"`{attachment.filename}` is not {kind}; attach a `{suffix}` file there.")
        limit = self.manager.folder.max_file_bytes
        if problem := size_problem(attachment.filename, attachment.size, limit):
            raise TemplateError([str(problem)])
        try:
            data = await attachment.read()
        except (discord.NotFound, discord.Forbidden):
            raise InvalidInput(f"The link to `{attachment.filename}` has expired; attach it again.") from None
        except discord.HTTPException:
            raise InvalidInput(f"I could not download `{attachment.filename}`; try again.") from None
        if problem := size_problem(attachment.filename, len(data), limit):
            raise TemplateError([str(problem)])
        return data

    async def add(
        self,
        interaction: discord.Interaction[Any],
        workflow: discord.Attachment,
        manifest: discord.Attachment | None,
        name: str | None,
    ) -> Answer:
        workflow_data = await self._upload(workflow, ".json")
        assert workflow_data is not None
        manifest_data = await self._upload(manifest, ".toml")
        stem = name or PurePath(workflow.filename).stem
        entry = await self.manager.add(
            workflow_data,
            manifest_data,
            stem=stem,
            actor_id=interaction.user.id,
            guild_id=interaction.guild_id,
        )
        head = (
            f"Added `/{entry.name}` as a draft (version `{entry.version}`, `{entry.files.json_name}`). "
            f"Members can't see it yet: `/template try {entry.name}` runs it for you alone, "
            f"`/template publish {entry.name}` makes it a command."
        )
        return await self._with_check(head, entry.template)

    async def edit(
        self,
        interaction: discord.Interaction[Any],
        name: str,
        workflow: discord.Attachment | None,
        manifest: discord.Attachment | None,
        drop_manifest: bool,
    ) -> Answer:
        entry, previous = await self.manager.edit(
            name,
            workflow=await self._upload(workflow, ".json"),
            manifest=await self._upload(manifest, ".toml"),
            drop_manifest=drop_manifest,
            actor_id=interaction.user.id,
            guild_id=interaction.guild_id,
        )
        head = (
            f"Updated `/{entry.name}` ({AREA_WORDS[entry.area]}): version `{previous}` → `{entry.version}`. "
            f"Jobs already waiting or running finish with version `{previous}`."
        )
        return await self._with_check(head, entry.template)

    async def _with_check(self, head: str, template: Template) -> Answer:
        checks = await self.manager.check_backends([template])
        report, ok = check_report(
            [template], [], checks, where=self.manager.folder.prefix(Area.DRAFT) or "the folder"
        )
        verdict = "Every image server can run it." if ok else "Not every image server can run it:"
        return _fitted(f"{head}\n{verdict}", report, "check.txt")

    # --- check, list, show -----------------------------------------------------------------------

    async def check(self, interaction: discord.Interaction[Any], name: str | None) -> Answer:
        catalog = self.manager.library.catalog
        if name:
            template = self._known(name)
            entry = catalog.entry(template.name)
            files = {entry.files.json_name, entry.files.toml_name} if entry is not None else set()
            templates = [template]
            problems = [p for p in catalog.problems if p.file in files]
        else:
            templates = [*catalog.published, *catalog.drafts]
            problems = list(catalog.problems)
        checks = await self.manager.check_backends(templates)
        report, ok = check_report(templates, problems, checks, where="the workflows folder")
        head = "✅ All good." if ok else "Some templates can't run everywhere, or have problems:"
        return _fitted(head, report, "check.txt")

    async def list_(self, interaction: discord.Interaction[Any]) -> Answer:
        library = self.manager.library
        catalog = library.catalog
        lines: list[str] = []
        for title, templates, area in (
            ("Published", catalog.published, Area.PUBLISHED),
            ("Drafts (only `/template try`)", catalog.drafts, Area.DRAFT),
            ("Retired", catalog.retired, Area.RETIRED),
        ):
            names = []
            for template in templates:
                entry = catalog.entry(template.name)
                if entry is None or entry.area is not area:
                    continue
                mark = " ⚠️ files broken, last good version running" if entry.broken else ""
                names.append(f"`/{template.name}` `{entry.version}`{mark}")
            lines.append(f"**{title}:** " + (", ".join(names) or "none"))
        if catalog.problems:
            lines.append(f"**Problems ({len(catalog.problems)}):**")
            lines += [f"• {p}" for p in catalog.problems[:10]]
            if len(catalog.problems) > 10:
                lines.append(f"… and {len(catalog.problems) - 10} more (`/template check`).")
        if interaction.guild_id is not None:
            roles = await self.access.managers.roles(interaction.guild_id)
            shown = ", ".join(f"<@&{r}>" for r in sorted(roles)) or "none (owners only)"
            lines.append(f"**Roles that may manage templates here:** {shown}")
        text = "\n".join(lines)
        return Answer(text) if len(text) <= MESSAGE_LIMIT else _fitted("Templates:", text, "templates.txt")

    async def show(self, interaction: discord.Interaction[Any], name: str) -> Answer:
        template = self._known(name)
        entry = self.manager.library.entry(template.name)
        assert entry is not None
        history = await self.manager.history(template.name, limit=8)
        text = show_text(entry, template, history)
        files: list[tuple[str, bytes]] = []
        sources = [
            (entry.files.json_name, entry.files.workflow),
            (entry.files.toml_name, entry.files.manifest),
        ]
        size = sum(len(t.encode()) for _, t in sources if t is not None)
        if size <= ATTACHED_FILES_LIMIT:
            files = [(PurePath(n).name, t.encode()) for n, t in sources if t is not None]
        if len(text) > MESSAGE_LIMIT:
            files.append(("show.txt", text.encode()))
            text = text[: MESSAGE_LIMIT - 40] + "\n… (all of it in show.txt)"
        return Answer(text, files)

    # --- try ------------------------------------------------------------------------------------

    async def try_(
        self,
        interaction: discord.Interaction[Any],
        name: str,
        prompt: str | None,
        image: discord.Attachment | None,
        mask: discord.Attachment | None,
        values: str | None,
    ) -> Answer:
        template = self.manager.library.runnable(name.strip().lstrip("/"))
        if template is None:
            raise InvalidInput(f"There is no published or draft template `{name}` to try.")
        given = parse_values(values or "")
        if prompt is not None:
            given[_prompt_param(template)] = prompt
        attachments: list[Attachment] = []
        for attachment, kind in ((image, ParamType.IMAGE), (mask, ParamType.MASK)):
            if attachment is None:
                continue
            param = next((p.name for p in template.params if p.type is kind), None)
            if param is None:
                raise InvalidInput(f"/{template.name} takes no {kind.value}.")
            attachments.append(await read_attachment(param, attachment, max_bytes=self.max_attachment_bytes))
        job, link = await self.controller.try_privately(interaction, template, given, attachments)
        await self.manager.record_try(
            template.name, job.id, actor_id=interaction.user.id, guild_id=interaction.guild_id
        )
        entry = self.manager.library.entry(template.name)
        state = AREA_WORDS[entry.area] if entry is not None else "published"
        return Answer(f"Trying `/{template.name}` ({state}) for you alone as job `{job.id}`: {link}")

    # --- publish, retire, restore -----------------------------------------------------------------

    async def publish(self, interaction: discord.Interaction[Any], name: str) -> Answer:
        entry = await self.manager.publish(name, actor_id=interaction.user.id, guild_id=interaction.guild_id)
        return Answer(
            f"Published `/{entry.name}` (version `{entry.version}`): it passed the check and is being "
            "registered with Discord now; members see it in their command list shortly."
        )

    async def retire(self, interaction: discord.Interaction[Any], name: str) -> Answer:
        entry = await self.manager.retire(name, actor_id=interaction.user.id, guild_id=interaction.guild_id)
        open_jobs = [
            j
            for j in await self.controller.engine.jobs.list_by_state(*OPEN_STATES)
            if j.template == entry.name
        ]
        running = f" {len(open_jobs)} job(s) still waiting or running finish normally." if open_jobs else ""
        return Answer(
            f"Retired `/{entry.name}`: the command is being removed from Discord and its files moved to "
            f"`{entry.files.json_name}`.{running} `/template publish {entry.name}` brings it back."
        )

    async def restore(self, interaction: discord.Interaction[Any], name: str, version: str | None) -> Answer:
        entry, previous = await self.manager.restore(
            name.strip().lstrip("/"), version, actor_id=interaction.user.id, guild_id=interaction.guild_id
        )
        was = f" (it was `{previous}`)" if previous else ""
        return Answer(
            f"Restored `/{entry.name}` to version `{entry.version}`{was}, {AREA_WORDS[entry.area]}. "
            "Jobs already waiting or running keep their version."
        )

    # --- who may ----------------------------------------------------------------------------------

    async def allow(self, interaction: discord.Interaction[Any], role: discord.Role) -> str:
        guild_id = _guild(interaction)
        if not await self.access.managers.allow(guild_id, role.id, granted_by=interaction.user.id):
            return f"{role.mention} may manage templates already."
        await self.manager.audit.record(
            TemplateAudit.ALLOW, guild_id=guild_id, actor_id=interaction.user.id, details={"role_id": role.id}
        )
        return f"Members with {role.mention} may now manage templates (`/template`) in this server."

    async def disallow(self, interaction: discord.Interaction[Any], role: discord.Role) -> str:
        guild_id = _guild(interaction)
        if not await self.access.managers.disallow(guild_id, role.id):
            return f"{role.mention} could not manage templates anyway."
        await self.manager.audit.record(
            TemplateAudit.DISALLOW,
            guild_id=guild_id,
            actor_id=interaction.user.id,
            details={"role_id": role.id},
        )
        return f"Members with {role.mention} no longer manage templates here."

    # --- autocomplete -----------------------------------------------------------------------------

    def _known(self, name: str) -> Template:
        wanted = name.strip().lstrip("/")
        library = self.manager.library
        template = library.runnable(wanted) or library.catalog.retired.get(wanted)
        if template is None:
            raise InvalidInput(f"There is no template `{wanted}` (see `/template list`).")
        return template

    def names(self, *areas: Area) -> list[str]:
        catalog = self.manager.library.catalog
        found: list[str] = []
        for entry in catalog:
            if entry.area in areas and catalog.entry(entry.name) is entry and entry.name not in found:
                found.append(entry.name)
        return sorted(found)

    async def complete(
        self, interaction: discord.Interaction[Any], current: str, areas: tuple[Area, ...]
    ) -> list[app_commands.Choice[str]]:
        if not isinstance(await self.access.allowed(interaction, TemplateAction.MANAGE), Allow):
            return []  # nothing about drafts for those who may not see them
        needle = current.strip().lstrip("/").lower()
        return [app_commands.Choice(name=n, value=n) for n in self.names(*areas) if needle in n][:25]

    async def complete_version(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        if not isinstance(await self.access.allowed(interaction, TemplateAction.MANAGE), Allow):
            return []
        name = str(getattr(interaction.namespace, "name", "") or "").strip().lstrip("/")
        if not name:
            return []
        needle = current.strip().lower()
        return [
            app_commands.Choice(name=stored.version, value=stored.version)
            for stored in await self.manager.history(name, limit=25)
            if needle in stored.version
        ]


def parse_values(text: str) -> dict[str, str]:
    """``steps=4 size=portrait "negative=a b, c"`` (or comma-separated) as {name: value}."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace += ",\n"
    lexer.whitespace_split = True
    values: dict[str, str] = {}
    try:
        tokens = list(lexer)
    except ValueError as exc:
        raise InvalidInput(f"`values` could not be read ({exc}); write them as name=value.") from None
    for token in tokens:
        name, sep, value = token.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"`values`: {token!r} must look like name=value (e.g. steps=4).")
        values[name.strip()] = value
    return values


def _prompt_param(template: Template) -> str:
    texts = [p for p in template.params if p.type is ParamType.TEXT]
    for candidate in ("prompt", *(p.name for p in texts if p.required), *(p.name for p in texts)):
        if template.has_param(candidate):
            return candidate
    raise InvalidInput(f"/{template.name} takes no text prompt; use `values` for its options.")


def _fitted(head: str, report: str, filename: str) -> Answer:
    """The head and the report in a code block, or the report as a file when it is too long."""
    block = report.replace("```", "'''")
    if len(head) + len(block) + 10 <= MESSAGE_LIMIT and len(block) <= CODE_LIMIT:
        return Answer(f"{head}\n```\n{block}\n```")
    return Answer(f"{head}\n(the full report is in {filename})", [(filename, report.encode())])


def _guild(interaction: discord.Interaction[Any]) -> int:
    if interaction.guild_id is None:
        raise InvalidInput("This only works in a server.")
    return interaction.guild_id


def template_commands(handlers: TemplateCommands) -> app_commands.Group:
    """The ``/template`` group."""
    run = handlers.run
    group = app_commands.Group(
        name="template",
        description="Owners: add, check, try, publish and retire workflow templates",
        guild_only=True,
        # Only a hint to Discord about whom to show it to: every subcommand asks the rule itself.
        default_permissions=discord.Permissions(manage_guild=True),
    )

    Completer = Callable[[discord.Interaction[Any], str], Coroutine[Any, Any, list[app_commands.Choice[str]]]]

    def completer(*areas: Area) -> Completer:
        async def complete(
            interaction: discord.Interaction[Any], current: str
        ) -> list[app_commands.Choice[str]]:
            return await handlers.complete(interaction, current, areas)

        return complete

    every = completer(Area.PUBLISHED, Area.DRAFT, Area.RETIRED)

    @group.command(name="add", description="Add a workflow (API-format export, optional manifest) as a draft")
    @app_commands.describe(
        workflow="The workflow exported with 'Save (API format)' (.json)",
        manifest="Its manifest (.toml): the command's options (default: inferred)",
        name="The command name (default: the file name)",
    )
    async def add(
        interaction: discord.Interaction[Any],
        workflow: discord.Attachment,
        manifest: discord.Attachment | None = None,
        name: app_commands.Range[str, 1, 32] | None = None,
    ) -> None:
        await run(interaction, handlers.add, workflow, manifest, name)

    @group.command(name="check", description="Check templates against every image server")
    @app_commands.describe(name="One template (default: all of them)")
    @app_commands.autocomplete(name=every)
    async def check(interaction: discord.Interaction[Any], name: str | None = None) -> None:
        await run(interaction, handlers.check, name)

    @group.command(name="try", description="Run a template (a draft too) for you alone, in a direct message")
    @app_commands.describe(
        name="The template",
        prompt="The text prompt",
        image="An image, for templates that take one",
        mask="A mask, for templates that take one",
        values="Other options as name=value, e.g. steps=4 size=portrait",
    )
    @app_commands.autocomplete(name=completer(Area.PUBLISHED, Area.DRAFT))
    async def try_(
        interaction: discord.Interaction[Any],
        name: str,
        prompt: app_commands.Range[str, 1, 4000] | None = None,
        image: discord.Attachment | None = None,
        mask: discord.Attachment | None = None,
        values: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        await run(interaction, handlers.try_, name, prompt, image, mask, values)

    @group.command(name="publish", description="Make a draft (or a retired template) a slash command")
    @app_commands.describe(name="The template")
    @app_commands.autocomplete(name=completer(Area.DRAFT, Area.RETIRED))
    async def publish(interaction: discord.Interaction[Any], name: str) -> None:
        await run(interaction, handlers.publish, name)

    @group.command(name="list", description="Published, draft and retired templates, and problems")
    async def list_(interaction: discord.Interaction[Any]) -> None:
        await run(interaction, handlers.list_)

    @group.command(name="show", description="A template's manifest, parameters and versions")
    @app_commands.describe(name="The template")
    @app_commands.autocomplete(name=every)
    async def show(interaction: discord.Interaction[Any], name: str) -> None:
        await run(interaction, handlers.show, name)

    @group.command(name="edit", description="Replace a template's export or manifest (a new version)")
    @app_commands.describe(
        name="The template",
        workflow="The new API-format export (.json)",
        manifest="The new manifest (.toml)",
        drop_manifest="Remove the manifest (its options are inferred again)",
    )
    @app_commands.autocomplete(name=every)
    async def edit(
        interaction: discord.Interaction[Any],
        name: str,
        workflow: discord.Attachment | None = None,
        manifest: discord.Attachment | None = None,
        drop_manifest: bool = False,
    ) -> None:
        await run(interaction, handlers.edit, name, workflow, manifest, drop_manifest)

    @group.command(name="retire", description="Remove a template's command (running jobs finish)")
    @app_commands.describe(name="The template")
    @app_commands.autocomplete(name=completer(Area.PUBLISHED, Area.DRAFT))
    async def retire(interaction: discord.Interaction[Any], name: str) -> None:
        await run(interaction, handlers.retire, name)

    @group.command(name="restore", description="Put an earlier version of a template back")
    @app_commands.describe(name="The template", version="Which version (default: the one before)")
    @app_commands.autocomplete(name=every, version=handlers.complete_version)
    async def restore(interaction: discord.Interaction[Any], name: str, version: str | None = None) -> None:
        await run(interaction, handlers.restore, name, version)

    @group.command(name="allow", description="Owners: let a role manage templates in this server")
    @app_commands.describe(role="The role")
    async def allow(interaction: discord.Interaction[Any], role: discord.Role) -> None:
        await run(interaction, handlers.allow, role, action=TemplateAction.GRANT)

    @group.command(name="disallow", description="Owners: stop a role managing templates here")
    @app_commands.describe(role="The role")
    async def disallow(interaction: discord.Interaction[Any], role: discord.Role) -> None:
        await run(interaction, handlers.disallow, role, action=TemplateAction.GRANT)

    return group
