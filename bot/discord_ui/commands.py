"""One slash command per template, with options typed from its manifest.

discord.py reads a command's options from its callback's signature, so each template gets a callback
with a synthetic ``__signature__``: Python-safe parameter names (``p0``, ``p1``, ...) renamed to the
template's option names, annotations that carry Discord's types and ranges, and the describe/choices/
autocomplete attributes the decorators would have set.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Optional, cast

import discord
from discord import app_commands

from bot.templates import Param, ParamType, Template, discord_max_length

DISCORD_INT_MAX = 2**53 - 1
Handler = Callable[[discord.Interaction[Any], Template, dict[str, Any]], Awaitable[None]]
Autocomplete = Callable[[Template, Param, str], Sequence[str]]


def _annotation(param: Param) -> Any:
    if param.type is ParamType.TEXT:
        return app_commands.Range[str, 0, discord_max_length(param)] if param.max_length else str
    if param.type in (ParamType.INT, ParamType.SEED):
        low = int(param.min) if param.min is not None else (0 if param.type is ParamType.SEED else None)
        high = (
            int(param.max)
            if param.max is not None
            else (DISCORD_INT_MAX if param.type is ParamType.SEED else None)
        )
        high = min(high, DISCORD_INT_MAX) if high is not None else None
        return app_commands.Range[int, low, high] if low is not None or high is not None else int
    if param.type is ParamType.FLOAT:
        if param.min is None and param.max is None:
            return float
        return app_commands.Range[float, param.min, param.max]
    if param.type is ParamType.BOOL:
        return bool
    if param.type in (ParamType.IMAGE, ParamType.MASK):
        return discord.Attachment
    return str  # choices: fixed list or autocomplete


def _description(param: Param) -> str:
    text = param.description or param.name
    if param.default is not None and param.type not in (ParamType.IMAGE, ParamType.MASK):
        text = f"{text} (default {param.default})"
    return text[:100]


def build_command(
    template: Template, handler: Handler, autocomplete: Autocomplete
) -> app_commands.Command[Any, Any, Any]:
    """The slash command for ``template``; invoking it calls ``handler(interaction, template, values)``."""
    params = template.options  # required first, as Discord demands
    python_names = {f"p{i}": param for i, param in enumerate(params)}

    async def callback(interaction: discord.Interaction[Any], **kwargs: Any) -> None:
        values = {python_names[key].name: value for key, value in kwargs.items() if value is not None}
        await handler(interaction, template, values)

    parameters = [
        inspect.Parameter(
            "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
        )
    ]
    for key, param in python_names.items():
        annotation = _annotation(param)
        if param.required:
            parameters.append(inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, annotation=annotation))
        else:
            # discord.py reads typing.Optional; Range[...] metadata objects do not support `| None`.
            optional = Optional[annotation]  # type: ignore[valid-type]  # noqa: UP045
            parameters.append(
                inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, annotation=optional, default=None)
            )
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    callback.__name__ = callback.__qualname__ = template.name  # a plain function, not a method
    callback.__discord_app_commands_param_rename__ = {k: p.name for k, p in python_names.items()}  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_description__ = {  # type: ignore[attr-defined]
        k: _description(p) for k, p in python_names.items()
    }
    choices: dict[str, list[app_commands.Choice[str]]] = {}
    completers: dict[str, Any] = {}
    for key, param in python_names.items():
        if param.type is not ParamType.CHOICE:
            continue
        if param.choices:
            choices[key] = [
                app_commands.Choice(name=c.label[:100], value=c.label[:100]) for c in param.choices[:25]
            ]
        else:
            completers[key] = _completer(template, param, autocomplete)
    callback.__discord_app_commands_param_choices__ = choices  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_autocomplete__ = completers  # type: ignore[attr-defined]
    command: app_commands.Command[Any, Any, Any] = app_commands.Command(
        name=template.name,
        description=(template.description or f"Run the {template.name} workflow")[:100],
        callback=cast(Any, callback),
    )
    command.guild_only = True
    if template.nsfw:
        command.nsfw = True
    return command


def _completer(template: Template, param: Param, source: Autocomplete) -> Any:
    async def complete(interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        options = source(template, param, current)
        needle = current.lower()
        matches = [o for o in options if needle in o.lower()]
        return [app_commands.Choice(name=o[:100], value=o[:100]) for o in matches[:25]]

    return complete
