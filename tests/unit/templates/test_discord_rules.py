"""Discord naming and option rules."""

from __future__ import annotations

import pytest

from bot.templates import Param, ParamType, Target, discord_max_length, option_order, sanitize_command_name

from .conftest import build, graph_text


@pytest.mark.parametrize(
    ("stem", "name"),
    [
        ("imagine", "imagine"),
        ("SDXL Turbo", "sdxl-turbo"),
        ("flux.1-dev_fp8", "flux-1-dev_fp8"),
        ("Ünïcode Wörkflow", "unicode-workflow"),
        ("a" * 40, "a" * 32),
        ("!!!", ""),
        ("--x--", "x"),
    ],
)
def test_sanitize_command_name(stem: str, name: str) -> None:
    assert sanitize_command_name(stem) == name


def test_stem_that_cannot_be_a_name_needs_a_manifest() -> None:
    from bot.templates import parse_template

    template, problems = parse_template("!!!", graph_text("sd15_default"))
    assert template is None
    assert any("cannot make a command name" in str(p) for p in problems)


def test_discord_max_length_is_capped() -> None:
    def text(max_length: int | None) -> Param:
        return Param("p", ParamType.TEXT, "d", (Target("1", "t"),), max_length=max_length)

    assert discord_max_length(text(None)) == 6000
    assert discord_max_length(text(10000)) == 6000
    assert discord_max_length(text(1500)) == 1500


def test_option_order_puts_required_first() -> None:
    template = build("img", graph_text("img2img"))
    order = [p.name for p in option_order(template)]
    assert order[:2] == ["prompt", "image"]
    assert all(not p.required for p in option_order(template)[2:])


@pytest.mark.parametrize("stem", ["queue", "help", "template", "mod"])
def test_a_template_cannot_take_one_of_the_bots_own_command_names(stem: str) -> None:
    from bot.templates import parse_template

    template, problems = parse_template(stem, graph_text("sd15_default"))
    assert template is None
    assert [p.message for p in problems] == [f"/{stem} is one of the bot's own commands; pick another name"]
