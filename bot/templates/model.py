"""The data a workflow template is made of: parameters, their targets, choices, actions, results.

Everything here is a frozen dataclass. A template's ``graph`` is the parsed API-format export; it is
never mutated (``render`` works on a deep copy).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

#: A value a parameter can put into the graph. Never a list or a dict, so never a link.
Value = str | int | float | bool

#: An API-format graph: ``{node_id: {"class_type": str, "inputs": {...}, "_meta": {...}}}``.
Graph = Mapping[str, Any]

#: ComfyUI's seed range (KSampler ``seed``, RandomNoise ``noise_seed``).
SEED_MIN = 0
SEED_MAX = 2**64 - 1
#: Random seeds stay below 2**53 so they survive Discord integer options and JavaScript clients.
RANDOM_SEED_LIMIT = 2**53

#: Output classes that ``websocket_outputs`` replaces by ``SaveImageWebsocket`` when rendering.
SWAPPABLE_OUTPUTS = frozenset({"SaveImage", "PreviewImage"})
WEBSOCKET_OUTPUT = "SaveImageWebsocket"


class VaryMode(StrEnum):
    """How Vary re-makes image N of a batch on its own (see ``templates.outputs``)."""

    NOISE_INDEX = "noise_index"
    """Same seed, batch size 1, the latent taken as entry N of the batch (its own noise)."""
    SEED_OFFSET = "seed_offset"
    """Seed + N, batch size 1: for workflows whose batch images each use their own seed."""
    OFF = "off"


class ParamType(StrEnum):
    """What kind of value a parameter takes."""

    TEXT = "text"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    CHOICE = "choice"
    SEED = "seed"
    IMAGE = "image"
    MASK = "mask"


@dataclass(frozen=True, slots=True)
class Target:
    """Where a parameter lands: one input of one node, or a whole node (for choice tables)."""

    node_id: str
    input: str | None = None

    def __str__(self) -> str:
        return self.node_id if self.input is None else f"{self.node_id}.{self.input}"


@dataclass(frozen=True, slots=True)
class Choice:
    """One option of a choice parameter: a label and either one value or a table of input values."""

    label: str
    value: Value | None = None
    inputs: tuple[tuple[str, Value], ...] = ()

    @property
    def is_table(self) -> bool:
        return self.value is None

    def as_inputs(self) -> dict[str, Value]:
        return dict(self.inputs)


@dataclass(frozen=True, slots=True)
class Param:
    """One typed parameter of a template (becomes one Discord option).

    ``default`` is None when the parameter is required, when a seed is random by default, or when an
    optional parameter leaves the workflow's own values untouched. A choice parameter without
    ``choices`` takes its options from the backend (the combo list of its target input).
    """

    name: str
    type: ParamType
    description: str
    targets: tuple[Target, ...]
    required: bool = False
    default: Value | None = None
    min: int | float | None = None
    max: int | float | None = None
    step: int | float | None = None
    max_length: int | None = None
    choices: tuple[Choice, ...] = ()

    @property
    def from_backend(self) -> bool:
        """True for a choice whose options are the backend's combo list (checkpoints, samplers...)."""
        return self.type is ParamType.CHOICE and not self.choices

    @property
    def is_file(self) -> bool:
        return self.type in (ParamType.IMAGE, ParamType.MASK)

    def choice(self, label: str) -> Choice:
        for choice in self.choices:
            if choice.label == label:
                return choice
        raise KeyError(label)


@dataclass(frozen=True, slots=True)
class Action:
    """A follow-up button: run ``template`` on a result image, with some values fixed."""

    label: str
    template: str
    image_param: str
    values: tuple[tuple[str, Value], ...] = ()

    def fixed_values(self) -> dict[str, Value]:
        return dict(self.values)


@dataclass(frozen=True, eq=False)
class Template:
    """A validated workflow template: the command, its parameters and the graph they fill in."""

    name: str
    description: str
    graph: Graph
    params: tuple[Param, ...]
    outputs: tuple[str, ...]
    source: str
    nsfw: bool = False
    websocket_outputs: bool = True
    actions: tuple[Action, ...] = ()
    inferred: bool = False
    outputs_declared: bool = False
    """The manifest named the output nodes (else they were inferred from the graph)."""
    vary: VaryMode | None = None
    """How Vary re-makes one image of a batch; None: decided from the graph (``outputs.vary_mode``)."""

    def param(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(name)

    def has_param(self, name: str) -> bool:
        return any(p.name == name for p in self.params)

    @property
    def options(self) -> tuple[Param, ...]:
        """Parameters in Discord option order: required ones first, each group in declared order."""
        return tuple(p for p in self.params if p.required) + tuple(p for p in self.params if not p.required)

    def class_type(self, node_id: str) -> str:
        """The node's class as it will run (after the websocket swap)."""
        class_type = str(self.graph[node_id]["class_type"])
        if self.websocket_outputs and node_id in self.outputs and class_type in SWAPPABLE_OUTPUTS:
            return WEBSOCKET_OUTPUT
        return class_type


@dataclass(frozen=True, eq=False)
class RenderedPrompt:
    """A graph ready for ``POST /prompt``, and what went into it.

    ``values`` holds every value that was written (given, defaulted, generated seeds, uploaded file
    names) so a job can be reproduced. ``output_nodes`` are the nodes whose images are results;
    ``websocket_nodes`` is the subset that delivers them as SaveImageWebsocket frames.
    """

    template: str
    graph: dict[str, Any]
    values: Mapping[str, Value]
    seed: int | None
    output_nodes: frozenset[str]
    websocket_nodes: frozenset[str]


@dataclass(frozen=True, slots=True)
class Capability:
    """Whether one backend can run one template; ``reasons`` say why not."""

    template: str
    backend: str
    reasons: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.reasons


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a template file, located by file and (when known) parameter or section."""

    file: str
    message: str
    where: str = ""

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.message}" if self.where else f"{self.file}: {self.message}"


@dataclass(frozen=True)
class TemplateSet:
    """Loaded templates by command name, in file order."""

    by_name: Mapping[str, Template] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Template]:
        return iter(self.by_name.values())

    def __len__(self) -> int:
        return len(self.by_name)

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def __getitem__(self, name: str) -> Template:
        return self.by_name[name]

    def get(self, name: str) -> Template | None:
        return self.by_name.get(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.by_name)
