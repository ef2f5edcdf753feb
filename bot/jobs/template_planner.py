"""The engine's JobPlanner over the templates package."""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from bot.errors import InvalidParameter
from bot.jobs.planning import Plan
from bot.templates import ParamType, Template, TemplateSet, backend_options, preflight, render, resolve_values
from bot.templates.model import VaryMode
from bot.templates.outputs import vary_mode
from bot.templates.vary import PICK_KEY, split_pick

_PLACEHOLDER = "comfycord/pending-upload.png"


class TemplatePlanner:
    """Validates member input against a template and renders the graph a job runs."""

    def __init__(self, templates: TemplateSet) -> None:
        self.templates = templates

    def _template(self, name: str) -> Template:
        template = self.templates.get(name)
        if template is None:
            raise InvalidParameter("template", f"there is no template named `{name}`")
        return template

    def knows(self, template: str) -> bool:
        return template in self.templates

    def validate(
        self, template: str, values: Mapping[str, Any], rng: random.Random, attached: Collection[str] = ()
    ) -> dict[str, Any]:
        """Complete, coerced params to store with the job; file params are filled in at run time."""
        chosen = self._template(template)
        for name in attached:
            if not chosen.has_param(name) or not chosen.param(name).is_file:
                raise InvalidParameter(name, f"/{template} takes no image named `{name}`")
        uploaded = dict.fromkeys(attached, _PLACEHOLDER)
        plain, pick = split_pick(values)
        resolved = resolve_values(chosen, plain, rng=rng, uploaded=uploaded)
        params: dict[str, Any] = {name: value for name, value in resolved.items() if name not in uploaded}
        if pick is not None:
            if vary_mode(chosen) is not VaryMode.NOISE_INDEX:
                raise InvalidParameter(PICK_KEY, f"/{template} cannot pick one image of a batch")
            params[PICK_KEY] = pick
        return params

    def plan(self, template: str, params: Mapping[str, Any], uploaded: Mapping[str, str]) -> Plan:
        chosen = self._template(template)
        # Seeds were drawn at submit time and are in params, so this random source is never used.
        rendered = render(chosen, params, rng=random.Random(0), uploaded=uploaded)
        return Plan(rendered.graph, rendered.output_nodes)

    def capabilities(self, object_info: Mapping[str, Any]) -> Mapping[str, Sequence[str]]:
        return {t.name: preflight(t, object_info).reasons for t in self.templates}

    def backend_needs(self, template: str, params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
        """The values of a job that only some backends may offer (checkpoints, samplers, ...)."""
        chosen = self.templates.get(template)
        if chosen is None:
            return ()
        return tuple(
            (p.name, str(params[p.name]))
            for p in chosen.params
            if p.type is ParamType.CHOICE and p.from_backend and p.name in params
        )

    def offered(self, template: str, param: str, object_info: Mapping[str, Any]) -> tuple[str, ...]:
        chosen = self._template(template)
        return backend_options(chosen, chosen.param(param), object_info)
