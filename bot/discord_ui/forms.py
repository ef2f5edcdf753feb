"""Forms (modals) that survive a restart: nothing about an open form lives in memory.

discord.py finds the code for a submitted modal by its exact custom_id, in memory: a form opened
before a restart would be lost, with what the member typed in it, and two forms with one custom_id
would replace each other. Our forms carry what they need in their custom_id (the kind of form, the
job, the member who opened it) and are never handed to discord.py to keep: ``unkept`` stops a modal
before it is sent (``send_modal`` only keeps a modal that is not finished). Every submit then reaches
``FormRouter.dispatch`` (from ``on_interaction``), which matches the custom_id against each form's
pattern and gives the typed values to that form's handler, a second or a day after it was opened.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import discord
from discord import ui

from bot.discord_ui.presenter import present

log = logging.getLogger(__name__)

FormHandler = Callable[[discord.Interaction[Any], re.Match[str], Mapping[str, str]], Awaitable[None]]
"""Handles one submitted form: the interaction, the custom_id's match, the values by input custom_id."""

TEXT_INPUT = 4
ACTION_ROW = 1
LABEL = 18


def unkept(modal: ui.Modal) -> ui.Modal:
    """``modal``, stopped so that discord.py does not keep it: its submit reaches the FormRouter."""
    modal.stop()
    return modal


def submitted_values(components: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The text a member typed in each input of a submitted modal, by the input's custom_id.

    Inputs come wrapped in action rows (the classic layout) or in labels (the newer one).
    """
    values: dict[str, str] = {}
    for component in components:
        kind = component.get("type")
        if kind == ACTION_ROW:
            values.update(submitted_values(component.get("components", ())))
        elif kind == LABEL and isinstance(component.get("component"), Mapping):
            values.update(submitted_values([component["component"]]))
        elif kind == TEXT_INPUT and "custom_id" in component:
            values[str(component["custom_id"])] = str(component.get("value") or "")
    return values


class FormRouter:
    """Finds the handler of a submitted form by its custom_id."""

    def __init__(self) -> None:
        self._forms: list[tuple[re.Pattern[str], FormHandler]] = []

    def add(self, pattern: str, handler: FormHandler) -> None:
        """Submits whose whole custom_id matches ``pattern`` go to ``handler``."""
        self._forms.append((re.compile(pattern), handler))

    async def dispatch(self, interaction: discord.Interaction[Any]) -> bool:
        """Handle a modal submit if one of our forms matches it; False for anything else."""
        if interaction.type is not discord.InteractionType.modal_submit or interaction.data is None:
            return False
        custom_id = str(interaction.data.get("custom_id", ""))
        for pattern, handler in self._forms:
            match = pattern.fullmatch(custom_id)
            if match is None:
                continue
            values = submitted_values(interaction.data.get("components", ()))  # type: ignore[arg-type]
            try:
                await handler(interaction, match, values)
            except Exception as exc:  # the handlers answer their own errors; this is the last resort
                await present(interaction, exc)
            return True
        log.debug("modal submit with an unknown custom_id %r", custom_id)
        return False
