"""What a member typed in a form, read from the submitted components (both layouts Discord sends)."""

from __future__ import annotations

import re

from discord import ui

from bot.discord_ui.components import EDIT_FORM, edit_form
from bot.discord_ui.forms import submitted_values, unkept
from bot.discord_ui.review.buttons import DECISION_FORM, decision_form


def test_values_from_action_rows() -> None:
    components = [
        {"type": 1, "components": [{"type": 4, "custom_id": "prompt", "value": "a fox"}]},
        {"type": 1, "components": [{"type": 4, "custom_id": "negative", "value": ""}]},
    ]
    assert submitted_values(components) == {"prompt": "a fox", "negative": ""}


def test_values_from_labels_and_missing_values() -> None:
    components = [
        {"type": 18, "component": {"type": 4, "custom_id": "reason", "value": "spam"}},
        {"type": 18, "component": {"type": 4, "custom_id": "duration"}},
        {"type": 10, "content": "text display, not an input"},
    ]
    assert submitted_values(components) == {"reason": "spam", "duration": ""}


async def test_forms_are_never_kept_in_memory() -> None:
    # discord.py keeps a sent modal only while it is not finished; ours come back through the router.
    assert unkept(ui.Modal(title="t", custom_id="x")).is_finished()
    assert edit_form("ABCD1234", 42, "imagine", {"prompt": ("a fox", 1500)}).is_finished()
    assert decision_form("ABCD1234", 7, ban=True).is_finished()


async def test_form_ids_name_the_job_and_the_member_and_match_their_routes() -> None:
    edit = edit_form("ABCD1234", 42, "imagine", {"prompt": ("a fox", 1500)})
    match = re.fullmatch(EDIT_FORM, edit.custom_id)
    assert match is not None
    assert (match["job"], match["user"]) == ("ABCD1234", "42")
    assert [c.custom_id for c in edit.children if isinstance(c, ui.TextInput)] == ["prompt"]
    ban = decision_form("ABCD1234", 7, ban=True)
    match = re.fullmatch(DECISION_FORM, ban.custom_id)
    assert match is not None
    assert (match["kind"], match["job"], match["user"]) == ("ban", "ABCD1234", "7")
    reject = re.fullmatch(DECISION_FORM, decision_form("ABCD1234", 7, ban=False).custom_id)
    assert reject is not None
    assert reject["kind"] == "reject"
