"""Buttons on status and result messages. DynamicItems carry the job id in their custom_id, so they
keep working after a restart: nothing about them lives in memory.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import ui

if TYPE_CHECKING:
    from bot.discord_ui.controller import Controller

JOB = r"(?P<job>[0-9A-Z]{8})"


def controller_of(interaction: discord.Interaction[Any]) -> Controller:
    return cast("Controller", getattr(interaction.client, "controller"))  # noqa: B009 - set by the app


class _JobButton(ui.DynamicItem[ui.Button[Any]], template=r"cc:base:(?P<job>never)"):
    """A button whose custom_id is ``cc:<action>:<job id>``; subclasses set their own template."""

    action = ""

    def __init__(
        self,
        job_id: str,
        *,
        label: str,
        style: discord.ButtonStyle,
        emoji: str | None = None,
        suffix: str = "",
    ) -> None:
        super().__init__(
            ui.Button(label=label, style=style, emoji=emoji, custom_id=f"cc:{self.action}:{job_id}{suffix}")
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: ui.Item[Any], match: re.Match[str], /
    ) -> _JobButton:
        return cls(match["job"])  # type: ignore[call-arg]


class CancelButton(_JobButton, template=rf"cc:cancel:{JOB}"):
    action = "cancel"

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id, label="Cancel", style=discord.ButtonStyle.secondary, emoji="✖️")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await controller_of(interaction).cancel_button(interaction, self.job_id)


class RerollButton(_JobButton, template=rf"cc:reroll:{JOB}"):
    action = "reroll"

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id, label="Re-roll", style=discord.ButtonStyle.primary, emoji="🎲")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await controller_of(interaction).reroll(interaction, self.job_id)


class EditButton(_JobButton, template=rf"cc:edit:{JOB}"):
    action = "edit"

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id, label="Edit", style=discord.ButtonStyle.secondary, emoji="✏️")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await controller_of(interaction).edit(interaction, self.job_id)


class DeleteButton(_JobButton, template=rf"cc:delete:{JOB}"):
    action = "delete"

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id, label="Delete", style=discord.ButtonStyle.danger, emoji="🗑️")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await controller_of(interaction).delete(interaction, self.job_id)


class FollowUpButton(ui.DynamicItem[ui.Button[Any]], template=rf"cc:act:{JOB}:(?P<index>[0-9]{{1,2}})"):
    """A template's follow-up action (e.g. Upscale) applied to this job's first result."""

    def __init__(self, job_id: str, index: int, label: str = "Follow up") -> None:
        super().__init__(
            ui.Button(
                label=label[:80], style=discord.ButtonStyle.secondary, custom_id=f"cc:act:{job_id}:{index}"
            )
        )
        self.job_id = job_id
        self.index = index

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: ui.Item[Any], match: re.Match[str], /
    ) -> FollowUpButton:
        return cls(match["job"], int(match["index"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await controller_of(interaction).follow_up(interaction, self.job_id, self.index)


DYNAMIC_ITEMS: tuple[type[ui.DynamicItem[Any]], ...] = (
    CancelButton,
    RerollButton,
    EditButton,
    DeleteButton,
    FollowUpButton,
)


def waiting_view(job_id: str) -> ui.View:
    view = ui.View(timeout=None)
    view.add_item(CancelButton(job_id))
    return view


def result_view(job_id: str, actions: list[str]) -> ui.View:
    """Re-roll, Edit, Delete, then the template's follow-ups (at most 5 rows of 5 in all)."""
    view = ui.View(timeout=None)
    view.add_item(RerollButton(job_id))
    view.add_item(EditButton(job_id))
    view.add_item(DeleteButton(job_id))
    for index, label in enumerate(actions[:20]):
        view.add_item(FollowUpButton(job_id, index, label))
    return view


class EditModal(ui.Modal):
    """Prefilled text parameters of a job; submitting starts a new job with the changes."""

    def __init__(self, job_id: str, template: str, texts: dict[str, tuple[str, int]]) -> None:
        super().__init__(title=f"Edit /{template}"[:45], timeout=600, custom_id=f"cc:editmodal:{job_id}")
        self.job_id = job_id
        self.fields: dict[str, ui.TextInput[Any]] = {}
        for name, (value, max_length) in list(texts.items())[:5]:
            field: ui.TextInput[Any] = ui.TextInput(
                label=name[:45],
                default=value[:4000],
                style=discord.TextStyle.paragraph if max_length > 100 else discord.TextStyle.short,
                max_length=min(4000, max_length),
                required=False,
            )
            self.fields[name] = field
            self.add_item(field)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        values = {name: field.value for name, field in self.fields.items()}
        await controller_of(interaction).edit_submitted(interaction, self.job_id, values)
