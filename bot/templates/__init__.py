"""Workflow templates: manifest model, loader/validator, inference, renderer and pre-flight.

Pure and typed: no discord, no network. ``load_templates`` reads ``workflows/``; everything else works
on values passed in.
"""

from bot.templates.coerce import coerce_value, file_name_problem, text_problem
from bot.templates.discord_rules import (
    RESERVED_COMMANDS,
    discord_max_length,
    option_order,
    sanitize_command_name,
)
from bot.templates.infer import infer_params
from bot.templates.loader import (
    load_template,
    load_templates,
    load_templates_lenient,
    parse_template,
    templates_from,
)
from bot.templates.model import (
    RANDOM_SEED_LIMIT,
    SEED_MAX,
    SEED_MIN,
    Action,
    Capability,
    Choice,
    Graph,
    Param,
    ParamType,
    Problem,
    RenderedPrompt,
    Target,
    Template,
    TemplateSet,
    Value,
    VaryMode,
)
from bot.templates.outputs import delivers, describe_outputs, vary_mode
from bot.templates.preflight import (
    ObjectInfo,
    backend_options,
    capability_map,
    merged_backend_options,
    preflight,
)
from bot.templates.render import follow_up_values, render, resolve_values
from bot.templates.vary import PICK_KEY, vary_values

__all__ = [
    "PICK_KEY",
    "RANDOM_SEED_LIMIT",
    "RESERVED_COMMANDS",
    "SEED_MAX",
    "SEED_MIN",
    "Action",
    "Capability",
    "Choice",
    "Graph",
    "ObjectInfo",
    "Param",
    "ParamType",
    "Problem",
    "RenderedPrompt",
    "Target",
    "Template",
    "TemplateSet",
    "Value",
    "VaryMode",
    "backend_options",
    "capability_map",
    "coerce_value",
    "delivers",
    "describe_outputs",
    "discord_max_length",
    "file_name_problem",
    "follow_up_values",
    "infer_params",
    "load_template",
    "load_templates",
    "load_templates_lenient",
    "merged_backend_options",
    "option_order",
    "parse_template",
    "preflight",
    "render",
    "resolve_values",
    "sanitize_command_name",
    "templates_from",
    "text_problem",
    "vary_mode",
    "vary_values",
]
