"""The moderators' buttons and the Reject / Reject-and-ban form.

The buttons are DynamicItems whose custom_id carries the job id, and the form's custom_id carries the
kind of decision, the job and the moderator who opened it (see forms.py): all of them work after a
restart. They find their handlers through ``host.review_actions`` (the review desk).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import discord
from discord import ui

from bot.discord_ui.forms import unkept
from bot.discord_ui.host import ReviewActions, review_actions
from bot.discord_ui.presenter import answers_errors

JOB = r"(?P<job>[0-9A-Z]{8})"
DECISION_FORM: Final = rf"cc:rvform:(?P<kind>reject|ban):{JOB}:(?P<user>[0-9]{{1,20}})"
"""The decision form's custom_id: reject or ban, the job, and the moderator who opened it."""
REASON_INPUT: Final = "reason"
DURATION_INPUT: Final = "duration"


async def acknowledge(interaction: discord.Interaction[Any]) -> None:
    """Acknowledge a moderator's click or form: the review message it came from is edited later (a
    form submitted without one, e.g. forged, gets a private "thinking" answer instead)."""
    if interaction.message is not None:
        await interaction.response.defer()
    else:
        await interaction.response.defer(ephemeral=True, thinking=True)


class _DeskButton(ui.DynamicItem[ui.Button[Any]], template=r"cc:rv:base:(?P<job>never)"):
    """A moderator button whose custom_id is ``<prefix><job id>``; subclasses set the template."""

    prefix = ""
    label = ""
    style = discord.ButtonStyle.secondary

    def __init__(self, job_id: str) -> None:
        super().__init__(ui.Button(label=self.label, style=self.style, custom_id=f"{self.prefix}{job_id}"))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: ui.Item[Any], match: re.Match[str], /
    ) -> _DeskButton:
        return cls(match["job"])

    @answers_errors
    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await self.act(review_actions(interaction), interaction)

    async def act(self, desk: ReviewActions, interaction: discord.Interaction[Any]) -> None:
        raise NotImplementedError


class ApproveButton(_DeskButton, template=rf"cc:rv:approve:{JOB}"):
    prefix, label, style = "cc:rv:approve:", "Approve", discord.ButtonStyle.success

    async def act(self, desk: ReviewActions, interaction: discord.Interaction[Any]) -> None:
        await desk.approve(interaction, self.job_id)


class RejectButton(_DeskButton, template=rf"cc:rv:reject:{JOB}"):
    prefix, label, style = "cc:rv:reject:", "Reject", discord.ButtonStyle.danger

    async def act(self, desk: ReviewActions, interaction: discord.Interaction[Any]) -> None:
        await desk.open_form(interaction, self.job_id, ban=False)


class BanButton(_DeskButton, template=rf"cc:rv:ban:{JOB}"):
    prefix, label, style = "cc:rv:ban:", "Reject and ban", discord.ButtonStyle.secondary

    async def act(self, desk: ReviewActions, interaction: discord.Interaction[Any]) -> None:
        await desk.open_form(interaction, self.job_id, ban=True)


class ReleaseButton(_DeskButton, template=rf"cc:out:release:{JOB}"):
    prefix, label, style = "cc:out:release:", "Release", discord.ButtonStyle.success

    async def act(self, desk: ReviewActions, interaction: discord.Interaction[Any]) -> None:
        await desk.decide_output(interaction, self.job_id, release=True)


class DiscardButton(_DeskButton, template=rf"cc:out:discard:{JOB}"):
    prefix, label, style = "cc:out:discard:", "Discard", discord.ButtonStyle.danger

    async def act(self, desk: ReviewActions, interaction: discord.Interaction[Any]) -> None:
        await desk.decide_output(interaction, self.job_id, release=False)


REVIEW_ITEMS: tuple[type[ui.DynamicItem[Any]], ...] = (
    ApproveButton,
    RejectButton,
    BanButton,
    ReleaseButton,
    DiscardButton,
)


def review_view(job_id: str) -> ui.View:
    """Approve / Reject / Reject and ban, under a request waiting for review."""
    view = ui.View(timeout=None)
    for button in (ApproveButton, RejectButton, BanButton):
        view.add_item(button(job_id))
    return view


def hold_view(job_id: str) -> ui.View:
    """Release / Discard, under results held for a moderator."""
    view = ui.View(timeout=None)
    view.add_item(ReleaseButton(job_id))
    view.add_item(DiscardButton(job_id))
    return view


def decision_form(job_id: str, moderator_id: int, *, ban: bool) -> ui.Modal:
    """Reject (or reject and ban) with an optional reason the member will read.

    The custom_id names the moderator too, so two moderators' open forms never mix.
    """
    kind = "ban" if ban else "reject"
    title = "Reject and ban the member" if ban else "Reject this request"
    form = ui.Modal(title=title, custom_id=f"cc:rvform:{kind}:{job_id}:{moderator_id}")
    form.add_item(
        ui.TextInput(
            label="Reason (the member sees it)",
            custom_id=REASON_INPUT,
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=300,
        )
    )
    if ban:
        form.add_item(
            ui.TextInput(
                label="Ban for (e.g. 12h, 7d; empty: until lifted)",
                custom_id=DURATION_INPUT,
                required=False,
                max_length=20,
            )
        )
    return unkept(form)


async def decision_submitted(
    interaction: discord.Interaction[Any], match: re.Match[str], values: Mapping[str, str]
) -> None:
    """The FormRouter's handler for DECISION_FORM (also for a form opened before a restart)."""
    ban = match["kind"] == "ban"
    await review_actions(interaction).form_submitted(
        interaction,
        match["job"],
        ban=ban,
        opened_by=int(match["user"]),
        reason=values.get(REASON_INPUT, ""),
        duration=values.get(DURATION_INPUT, "") if ban else "",
    )
