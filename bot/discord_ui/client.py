"""The discord.py client: registers the buttons, forms and commands in ``setup_hook`` and syncs them
sparingly. It is the ``ActionHost`` the buttons and forms find their handlers through (host.py)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_ui.command_sync import COMMAND_HASH_KEY, CommandSync, SyncPolicy, SyncPostponed
from bot.discord_ui.commands import build_command
from bot.discord_ui.components import DYNAMIC_ITEMS, EDIT_FORM, edit_submitted
from bot.discord_ui.controller import Controller
from bot.discord_ui.forms import FormRouter
from bot.discord_ui.general import general_commands
from bot.discord_ui.host import JobActions, ReviewActions
from bot.discord_ui.moderation import moderation_commands
from bot.discord_ui.owners import OwnerNotices
from bot.discord_ui.presenter import present
from bot.discord_ui.review import REVIEW_ITEMS, ReviewDesk
from bot.discord_ui.template_admin import TemplateCommands, template_commands
from bot.errors import BotError
from bot.jobs.template_manager import Reload
from bot.storage import MetaRepository
from bot.templates import Param, Template

log = logging.getLogger(__name__)

__all__ = ["COMMAND_HASH_KEY", "ComfyBot", "ErrorPresentingTree"]


class ErrorPresentingTree(app_commands.CommandTree[Any]):
    """Every command error goes through the one presenter."""

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        if isinstance(error, app_commands.CommandNotFound):
            # Discord still shows a command the bot removed a moment ago (a retired template).
            name = error.name
            await present(
                interaction, _Gone(f"`/{name}` is not available any more; it was retired or renamed.")
            )
            return
        if isinstance(error, app_commands.CommandSignatureMismatch):
            # The template was edited while Discord still showed the member its old options.
            updated = f"`/{error.command.name}` was just updated; run it again with its new options."
            await present(interaction, _Gone(updated))
            return
        await present(interaction, error)


class _Gone(BotError):
    """A command Discord still offers but the bot no longer has."""


class ComfyBot(commands.Bot):
    """The bot. ``controller`` (and ``template_admin``, for ``/template``) are set by the composition
    root before ``start``."""

    controller: Controller
    template_admin: TemplateCommands | None = None

    def __init__(
        self,
        *,
        meta: MetaRepository,
        dev_guild_id: int | None = None,
        owner_ids: frozenset[int] = frozenset(),
        autocomplete: Callable[[Template, Param, str], list[str]] | None = None,
        sync_policy: SyncPolicy | None = None,
        clock: Callable[[], float] = time.time,
        **options: Any,
    ) -> None:
        """``sync_policy``: how commands are registered (Discord's limits; tests shorten the waits);
        ``clock``: wall-clock time, for Discord's daily limit on new commands."""
        intents = discord.Intents.default()
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=ErrorPresentingTree,
            owner_ids=set(owner_ids) or None,
            **options,
        )
        self._meta = meta
        self._autocomplete = autocomplete or (lambda template, param, current: [])
        self.synced: str | None = None
        self.forms = FormRouter()
        """Where submitted forms (modals) find their handlers, before and after a restart."""
        self.owner_notices = OwnerNotices(self, owner_ids, meta)
        """Direct messages to the bot's owners (template problems, command registration)."""
        self.command_sync = CommandSync(
            self.tree,
            meta,
            guild_id=dev_guild_id,
            policy=sync_policy,
            clock=clock,
            report=self.owner_notices.report,
        )
        self._template_commands: set[str] = set()
        self._commands_built = False

    @property
    def job_actions(self) -> JobActions:
        return self.controller

    @property
    def review_actions(self) -> ReviewActions | None:
        return self.controller.review

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """discord.py dispatches every interaction here too: our forms are routed from here."""
        await self.forms.dispatch(interaction)

    async def setup_hook(self) -> None:
        for item in (*DYNAMIC_ITEMS, *REVIEW_ITEMS):
            self.add_dynamic_items(item)
        self.forms.add(EDIT_FORM, edit_submitted)
        ReviewDesk.register_forms(self.forms)
        for template in self.controller.templates:
            self._add_template_command(template)
        for command in general_commands(self.controller, self):
            self.tree.add_command(command)
        for group_or_command in moderation_commands(self.controller, self):
            self.tree.add_command(group_or_command)
        if self.template_admin is not None:
            self.tree.add_command(template_commands(self.template_admin))
        self._commands_built = True
        try:
            await self.sync_commands()
        except (SyncPostponed, discord.HTTPException, discord.RateLimited, TimeoutError) as exc:
            # The bot serves the commands Discord has; the background sync retries and tells the owners.
            log.warning("the first command sync did not go through (%s); retrying in the background", exc)
            self.command_sync.request()

    def _add_template_command(self, template: Template) -> None:
        command = build_command(template, self.controller.run_template, self._autocomplete)
        try:
            self.tree.add_command(command, override=True)
        except app_commands.CommandLimitReached:
            # Discord allows 100 slash commands; the template stays loaded (owners can try it).
            log.warning("/%s not registered: Discord's limit of 100 commands is reached", template.name)
            self.owner_notices.tell(
                f"⚠️ `/{template.name}` is not registered: Discord allows 100 slash commands and the bot "
                "has that many. Retire a template to make room."
            )
            return
        self._template_commands.add(template.name)

    async def templates_reloaded(self, reload: Reload) -> None:
        """A TemplateManager listener: re-register the commands of templates that changed, then sync."""
        if not self._commands_built:
            return  # setup_hook has not run: it registers whatever is current when it does
        changed = [name for name in reload.commands_changed if name]
        for name in changed:
            template = self.controller.templates.get(name)
            if template is not None:
                self._add_template_command(template)
            elif name in self._template_commands:
                self.tree.remove_command(name)
                self._template_commands.discard(name)
        if changed:
            log.info("template commands changed: %s", ", ".join(f"/{n}" for n in changed))
            self.command_sync.request()

    def command_hash(self) -> str:
        return self.command_sync.digest()

    async def sync_commands(self, *, force: bool = False) -> str:
        """Register the commands with Discord if they changed (or ``force``); see ``CommandSync``."""
        self.synced = await self.command_sync.sync(force=force)
        return self.synced
