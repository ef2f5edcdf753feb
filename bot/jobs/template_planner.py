"""The engine's JobPlanner over the templates package.

New jobs are validated against a template's current version, and ``version`` names it so the job can
record it; a job is rendered with the version it recorded (see ``bot.templates.library``), so an edit
made while it waits or runs changes nothing for it.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from bot.errors import InvalidParameter
from bot.jobs.planning import Plan
from bot.templates import ParamType, Template, TemplateSet, backend_options, preflight, render, resolve_values
from bot.templates.library import TemplateLibrary
from bot.templates.model import VaryMode
from bot.templates.outputs import vary_mode
from bot.templates.vary import PICK_KEY, split_pick

log = logging.getLogger(__name__)

_PLACEHOLDER = "comfycord/pending-upload.png"


class TemplatePlanner:
    """Validates member input against a template and renders the graph a job runs."""

    def __init__(self, templates: TemplateSet | TemplateLibrary) -> None:
        self.library = (
            templates if isinstance(templates, TemplateLibrary) else TemplateLibrary.fixed(templates)
        )

    @property
    def templates(self) -> TemplateLibrary:
        """The templates planned from (published ones by name, like a ``TemplateSet``)."""
        return self.library

    def _template(self, name: str) -> Template:
        template = self.library.runnable(name)
        if template is None:
            raise InvalidParameter("template", f"there is no template named `{name}`")
        return template

    def knows(self, template: str) -> bool:
        return self.library.runnable(template) is not None

    def version(self, template: str) -> str | None:
        """The version new jobs of ``template`` are validated against now."""
        return self.library.version(template)

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

    def _for_job(self, template: str, version: str | None) -> Template:
        """The template a stored job runs: the version it recorded, else (unversioned or forgotten)
        the current one."""
        if version is not None:
            chosen = self.library.at_version(template, version)
            if chosen is not None:
                return chosen
            log.warning(
                "template %s version %s is no longer known; running the current one", template, version
            )
        chosen = self.library.latest_known(template)
        if chosen is None:
            raise InvalidParameter("template", f"there is no template named `{template}`")
        return chosen

    def plan(
        self,
        template: str,
        params: Mapping[str, Any],
        uploaded: Mapping[str, str],
        version: str | None = None,
    ) -> Plan:
        chosen = self._for_job(template, version)
        # Seeds were drawn at submit time and are in params, so this random source is never used.
        rendered = render(chosen, params, rng=random.Random(0), uploaded=uploaded)
        return Plan(rendered.graph, rendered.output_nodes)

    def capabilities(self, object_info: Mapping[str, Any]) -> Mapping[str, Sequence[str]]:
        return {t.name: preflight(t, object_info).reasons for t in self.library.templates_for_capabilities()}

    def backend_needs(self, template: str, params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
        """The values of a job that only some backends may offer (checkpoints, samplers, ...)."""
        chosen = self.library.latest_known(template)
        if chosen is None:
            return ()
        return tuple(
            (p.name, str(params[p.name]))
            for p in chosen.params
            if p.type is ParamType.CHOICE and p.from_backend and p.name in params
        )

    def offered(self, template: str, param: str, object_info: Mapping[str, Any]) -> tuple[str, ...]:
        chosen = self.library.latest_known(template)
        if chosen is None or not chosen.has_param(param):
            return ()
        return backend_options(chosen, chosen.param(param), object_info)
