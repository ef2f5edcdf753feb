"""Discord's slash-command limits, checked when a template loads (never at sync time).

Source: reference/discord-platform.md (application-commands.mdx): name 1-32 of ``[-_a-z0-9]``,
description 1-100, <= 25 options with required ones first, <= 25 choices of 1-100 characters,
string ``max_length`` <= 6000, integers within +-2**53.
"""

from __future__ import annotations

import re
import unicodedata

from bot.templates.model import Param, ParamType, Template

NAME_RE = re.compile(r"^[-_a-z0-9]{1,32}$")
MAX_NAME = 32
MAX_DESCRIPTION = 100
MAX_OPTIONS = 25
MAX_CHOICES = 25
MAX_CHOICE_NAME = 100
#: Discord caps a string option at 6000 characters; longer ``max_length`` values only help the CLI.
MAX_STRING_OPTION = 6000
#: Discord integer and number options must lie within +-2**53.
MAX_SAFE_INTEGER = 2**53
#: A message has at most 5 rows of 5 buttons; follow-up actions get one row.
MAX_ACTIONS = 5
MAX_BUTTON_LABEL = 80
#: The bot's own commands: a template cannot take one of these names.
RESERVED_COMMANDS = frozenset(
    {"cancel", "help", "jobs", "mod", "queue", "quota", "show", "sync", "template", "templates"}
)


def sanitize_command_name(stem: str) -> str:
    """A Discord command name from a file stem: lowercase ASCII, other characters become '-'."""
    ascii_text = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    name = re.sub(r"[^-_a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return name[:MAX_NAME].strip("-")


def discord_max_length(param: Param) -> int:
    """The ``max_length`` a text option can have on Discord."""
    if param.max_length is None:
        return MAX_STRING_OPTION
    return min(param.max_length, MAX_STRING_OPTION)


def option_order(template: Template) -> tuple[Param, ...]:
    """The options as they are registered: required first (Discord's rule), then the rest."""
    return template.options


def _description_problem(text: str) -> str | None:
    if not text.strip():
        return "description is empty (Discord needs 1-100 characters)"
    if len(text) > MAX_DESCRIPTION:
        return f"description is {len(text)} characters; Discord allows at most {MAX_DESCRIPTION}"
    return None


def command_problems(template: Template) -> list[tuple[str, str]]:
    """Every Discord rule the template breaks, as ``(where, message)`` pairs."""
    problems: list[tuple[str, str]] = []
    if not NAME_RE.fullmatch(template.name):
        problems.append(
            ("[command]", f"name '{template.name}' is not a valid Discord command name (1-32 of a-z 0-9 - _)")
        )
    elif template.name in RESERVED_COMMANDS:
        problems.append(
            ("[command]", f"/{template.name} is one of the bot's own commands; pick another name")
        )
    if problem := _description_problem(template.description):
        problems.append(("[command]", problem))
    options = option_order(template)
    if len(options) > MAX_OPTIONS:
        problems.append(
            ("[params]", f"{len(options)} parameters; Discord allows at most {MAX_OPTIONS} options")
        )
    seen_optional = False
    for param in options:
        if not param.required:
            seen_optional = True
        elif seen_optional:
            problems.append((f"param '{param.name}'", "a required option comes after an optional one"))
    for param in template.params:
        problems.extend((f"param '{param.name}'", message) for message in param_problems(param))
    if len(template.actions) > MAX_ACTIONS:
        problems.append(
            ("[[actions]]", f"{len(template.actions)} actions; at most {MAX_ACTIONS} fit on a message")
        )
    return problems


def param_problems(param: Param) -> list[str]:
    """Discord rules for one option: name, description, choices, numeric range."""
    problems: list[str] = []
    if not NAME_RE.fullmatch(param.name):
        problems.append(f"name '{param.name}' is not a valid Discord option name (1-32 of a-z 0-9 - _)")
    if problem := _description_problem(param.description):
        problems.append(problem)
    if param.type is ParamType.CHOICE and len(param.choices) > MAX_CHOICES:
        problems.append(f"{len(param.choices)} choices; Discord allows at most {MAX_CHOICES}")
    problems.extend(
        f"choice name {choice.label[:40]!r} must be 1-{MAX_CHOICE_NAME} characters"
        for choice in param.choices
        if not choice.label.strip() or len(choice.label) > MAX_CHOICE_NAME
    )
    if param.type in (ParamType.INT, ParamType.FLOAT):
        problems.extend(
            f"bound {bound} is outside Discord's range of +-2**53"
            for bound in (param.min, param.max)
            if bound is not None and abs(bound) > MAX_SAFE_INTEGER
        )
    return problems
