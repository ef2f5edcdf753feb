"""The discord.py client: registers the buttons, forms and commands in ``setup_hook`` and syncs them
sparingly. It is the ``ActionHost`` the buttons and forms find their handlers through (host.py)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_ui.commands import build_command
from bot.discord_ui.components import DYNAMIC_ITEMS, EDIT_FORM, edit_submitted
from bot.discord_ui.controller import Controller
from bot.discord_ui.forms import FormRouter
from bot.discord_ui.general import general_commands
from bot.discord_ui.host import JobActions, ReviewActions
from bot.discord_ui.moderation import moderation_commands
from bot.discord_ui.presenter import present
from bot.discord_ui.review import REVIEW_ITEMS, ReviewDesk
from bot.storage import MetaRepository
from bot.templates import Param, Template

log = logging.getLogger(__name__)

COMMAND_HASH_KEY = "discord.command_hash"


class ErrorPresentingTree(app_commands.CommandTree[Any]):
    """Every command error goes through the one presenter."""

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await present(interaction, error)


class ComfyBot(commands.Bot):
    """The bot. ``controller`` is set by the composition root before ``start``."""

    controller: Controller

    def __init__(
        self,
        *,
        meta: MetaRepository,
        dev_guild_id: int | None = None,
        owner_ids: frozenset[int] = frozenset(),
        autocomplete: Callable[[Template, Param, str], list[str]] | None = None,
        **options: Any,
    ) -> None:
        intents = discord.Intents.default()
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=ErrorPresentingTree,
            owner_ids=set(owner_ids) or None,
            **options,
        )
        self._meta = meta
        self._dev_guild_id = dev_guild_id
        self._autocomplete = autocomplete or (lambda template, param, current: [])
        self.synced: str | None = None
        self.forms = FormRouter()
        """Where submitted forms (modals) find their handlers, before and after a restart."""

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
            self.tree.add_command(build_command(template, self.controller.run_template, self._autocomplete))
        for command in general_commands(self.controller, self):
            self.tree.add_command(command)
        for group_or_command in moderation_commands(self.controller, self):
            self.tree.add_command(group_or_command)
        await self.sync_commands()

    def command_hash(self) -> str:
        payload = [command.to_dict(self.tree) for command in self.tree.get_commands()]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    async def sync_commands(self, *, force: bool = False) -> str:
        """Instant guild sync in development; global sync only when the command set changed."""
        if self._dev_guild_id is not None:
            guild = discord.Object(id=self._dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
            self.synced = "guild"
            log.info("commands synced to development guild %s", self._dev_guild_id)
            return self.synced
        digest = self.command_hash()
        if not force and await self._meta.get(COMMAND_HASH_KEY) == digest:
            self.synced = "unchanged"
            log.info("command set unchanged; not syncing")
            return self.synced
        await self.tree.sync()
        await self._meta.set(COMMAND_HASH_KEY, digest)
        self.synced = "global"
        log.info("commands synced globally (%d commands)", len(self.tree.get_commands()))
        return self.synced
