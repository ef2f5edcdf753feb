"""What the engine needs from the templates layer, and what a caller hands the engine."""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.jobmodel.model import DEFAULT_LANE
from bot.moderation.limits import Limits


@dataclass(frozen=True, slots=True)
class Plan:
    """A graph ready to submit, and which of its nodes produce the job's final images."""

    graph: Mapping[str, Any]
    output_nodes: frozenset[str]


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file for an image or mask parameter, already downloaded and normalised by the caller."""

    param: str
    filename: str
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class JobRequest:
    """Everything needed to create a job. ``values`` are the member's raw option values."""

    user_id: int
    channel_id: int
    template: str
    values: Mapping[str, Any]
    guild_id: int | None = None
    attachments: Sequence[Attachment] = ()
    lane: str = DEFAULT_LANE
    needs_review: bool = False
    request_id: str | None = None
    """Where the request came from (a Discord interaction id): submitting it twice makes one job."""
    limits: Limits | None = None
    """The member's limits (queue, cooldown, daily quotas) from the moderation policy, checked in the
    transaction that stores the job; None for requests no policy governs (the CLI)."""
    age_restricted: bool | None = None
    """Asked for in an age-restricted channel: the results stay in such channels."""


class JobPlanner(Protocol):
    """Validates requests and renders graphs; implemented over the templates package."""

    def knows(self, template: str) -> bool: ...

    def version(self, template: str) -> str | None:
        """The version of ``template`` new jobs are validated against (None: not versioned); a job
        records it and runs that version even if the template changes meanwhile."""
        ...

    def validate(
        self, template: str, values: Mapping[str, Any], rng: random.Random, attached: Collection[str] = ()
    ) -> dict[str, Any]:
        """Coerced, complete params (the random seed chosen here); ``attached`` names the image
        params that come with files. Raises InvalidParameter."""
        ...

    def plan(
        self,
        template: str,
        params: Mapping[str, Any],
        uploaded: Mapping[str, str],
        version: str | None = None,
    ) -> Plan:
        """The graph for stored ``params`` with image params pointing at ``uploaded`` names, from the
        template at the ``version`` the job recorded (None: the current one)."""
        ...

    def capabilities(self, object_info: Mapping[str, Any]) -> Mapping[str, Sequence[str]]:
        """{template: reasons it cannot run on a backend with this object_info (empty = it can)}."""
        ...

    def backend_needs(self, template: str, params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
        """(param, value) pairs of a job that a backend must offer in its /object_info lists."""
        ...

    def offered(self, template: str, param: str, object_info: Mapping[str, Any]) -> tuple[str, ...]:
        """What a backend offers for one of the template's backend-provided choices."""
        ...
