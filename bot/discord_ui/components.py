"""Buttons and the Edit form on status and result messages. DynamicItems carry the job id in their
custom_id and the Edit form carries the job and the member (see forms.py), so they keep working after
a restart: nothing about them lives in memory. They find their handlers through ``host.job_actions``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import discord
from discord import ui

from bot.discord_ui.forms import unkept
from bot.discord_ui.host import job_actions
from bot.discord_ui.presenter import answers_errors

JOB = r"(?P<job>[0-9A-Z]{8})"
USER = r"(?P<user>[0-9]{1,20})"
EDIT_FORM: Final = rf"cc:editform:{JOB}:{USER}"
"""The Edit form's custom_id: the job and the member who opened it, so two editors never collide."""


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

    @answers_errors
    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await job_actions(interaction).cancel_button(interaction, self.job_id)


class RerollButton(_JobButton, template=rf"cc:reroll:{JOB}"):
    action = "reroll"

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id, label="Re-roll", style=discord.ButtonStyle.primary, emoji="🎲")

    @answers_errors
    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await job_actions(interaction).reroll(interaction, self.job_id)


class EditButton(_JobButton, template=rf"cc:edit:{JOB}"):
    action = "edit"

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id, label="Edit", style=discord.ButtonStyle.secondary, emoji="✏️")

    @answers_errors
    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await job_actions(interaction).edit(interaction, self.job_id)


class DeleteButton(_JobButton, template=rf"cc:delete:{JOB}"):
    action = "delete"

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id, label="Delete", style=discord.ButtonStyle.danger, emoji="🗑️")

    @answers_errors
    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await job_actions(interaction).delete(interaction, self.job_id)


class FollowUpButton(ui.DynamicItem[ui.Button[Any]], template=rf"cc:act:{JOB}:(?P<index>[0-9]{{1,2}})"):
    """A template's follow-up action (e.g. Upscale) applied to this job's first image."""

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

    @answers_errors
    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await job_actions(interaction).follow_up(interaction, self.job_id, self.index)


class PickButton(
    ui.DynamicItem[ui.Button[Any]],
    template=rf"cc:pick:{JOB}:(?P<action>[0-9]{{1,2}}):(?P<output>[0-9]{{1,3}})",
):
    """A template's follow-up action (e.g. Upscale) on one image of a batch: ``output`` is the job
    output the image is, so the button keeps working after a restart."""

    def __init__(self, job_id: str, action: int, output: int, label: str = "Follow up") -> None:
        super().__init__(
            ui.Button(
                label=label[:80],
                style=discord.ButtonStyle.secondary,
                custom_id=f"cc:pick:{job_id}:{action}:{output}",
            )
        )
        self.job_id = job_id
        self.action = action
        self.output = output

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: ui.Item[Any], match: re.Match[str], /
    ) -> PickButton:
        return cls(match["job"], int(match["action"]), int(match["output"]))

    @answers_errors
    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await job_actions(interaction).follow_up(interaction, self.job_id, self.action, self.output)


class VaryButton(ui.DynamicItem[ui.Button[Any]], template=rf"cc:vary:{JOB}:(?P<output>[0-9]{{1,3}})"):
    """Make one image of a batch again on its own (same seed and settings, see templates.vary)."""

    def __init__(self, job_id: str, output: int, number: int = 0) -> None:
        super().__init__(
            ui.Button(
                label=f"Vary {number}" if number else "Vary",
                style=discord.ButtonStyle.primary,
                custom_id=f"cc:vary:{job_id}:{output}",
            )
        )
        self.job_id = job_id
        self.output = output

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: ui.Item[Any], match: re.Match[str], /
    ) -> VaryButton:
        return cls(match["job"], int(match["output"]))

    @answers_errors
    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await job_actions(interaction).vary(interaction, self.job_id, self.output)


DYNAMIC_ITEMS: tuple[type[ui.DynamicItem[Any]], ...] = (
    CancelButton,
    RerollButton,
    EditButton,
    DeleteButton,
    FollowUpButton,
    PickButton,
    VaryButton,
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


def edit_form(job_id: str, user_id: int, template: str, texts: dict[str, tuple[str, int]]) -> ui.Modal:
    """The Edit form: a job's text parameters, prefilled; each input's custom_id is the parameter."""
    form = ui.Modal(title=f"Edit /{template}"[:45], custom_id=f"cc:editform:{job_id}:{user_id}")
    for name, (value, max_length) in list(texts.items())[:5]:
        form.add_item(
            ui.TextInput(
                label=name[:45],
                custom_id=name[:100],
                default=value[:4000],
                style=discord.TextStyle.paragraph if max_length > 100 else discord.TextStyle.short,
                max_length=min(4000, max_length),
                required=False,
            )
        )
    return unkept(form)


async def edit_submitted(
    interaction: discord.Interaction[Any], match: re.Match[str], values: Mapping[str, str]
) -> None:
    """The FormRouter's handler for EDIT_FORM."""
    await job_actions(interaction).edit_submitted(interaction, match["job"], int(match["user"]), values)
