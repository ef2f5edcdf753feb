"""Pieces of /template that need no Discord: reading `values`, the check report, the reserved names."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from bot.discord_ui.general import general_commands
from bot.discord_ui.moderation import moderation_commands
from bot.discord_ui.template_admin import TemplateCommands, parse_values, template_commands
from bot.discord_ui.template_report import check_report
from bot.errors import InvalidInput
from bot.jobs.template_manager import BackendCheck
from bot.templates import RESERVED_COMMANDS, Capability, Problem, load_templates
from tests.unit.templates.conftest import BUNDLED


def test_values_read_like_a_shell_line() -> None:
    assert parse_values('steps=4, size=portrait "negative=blurry, dark"') == {
        "steps": "4",
        "size": "portrait",
        "negative": "blurry, dark",
    }
    assert parse_values("") == {}
    with pytest.raises(InvalidInput, match="must look like name=value"):
        parse_values("steps 4")
    with pytest.raises(InvalidInput, match="could not be read"):
        parse_values('prompt="unclosed')


def test_the_check_report_says_what_comfycord_check_says() -> None:
    templates = list(load_templates(BUNDLED))[:2]
    problem = Problem("broken.json", "invalid JSON: Expecting value")
    checks = [
        BackendCheck(
            "GPU 1", (Capability("imagine", "GPU 1"), Capability("img2img", "GPU 1", ("no model x",)))
        ),
        BackendCheck("GPU 2", error="not answering"),
    ]
    report, ok = check_report(templates, [problem], checks, where="the workflows folder")
    assert not ok
    assert report.splitlines()[0] == "2 template(s) in the workflows folder"
    assert "/imagine  imagine.json" in report or "/imagine  imagine.toml" in report
    assert "prompt*:text" in report
    assert "1 problem(s):\n  - broken.json: invalid JSON: Expecting value" in report
    assert "backend GPU 1:\n  /imagine: ok\n  /img2img: cannot run\n      - no model x" in report
    assert "backend GPU 2:\n  unreachable: not answering" in report
    assert check_report(templates[:1], [], [BackendCheck("GPU 1", checks[0].capabilities[:1])], where="x")[1]


def test_the_bots_own_commands_are_exactly_the_reserved_names() -> None:
    controller: Any = SimpleNamespace(engine=None)
    names = {c.name for c in general_commands(controller, cast(Any, None))}
    names |= {c.name for c in moderation_commands(controller, cast(Any, None))}
    names.add(template_commands(TemplateCommands(controller, cast(Any, None), cast(Any, None))).name)
    assert names == RESERVED_COMMANDS
