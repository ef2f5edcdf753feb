"""What a run of one prompt reports, in order, to whoever drives it (the job engine, the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.comfy.protocol import ImageMime


@dataclass(frozen=True, slots=True)
class Queued:
    prompt_id: str
    number: float


@dataclass(frozen=True, slots=True)
class Started:
    prompt_id: str


@dataclass(frozen=True, slots=True)
class CachedNodes:
    nodes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NodeExecuting:
    node_id: str
    class_type: str


@dataclass(frozen=True, slots=True)
class StepProgress:
    """Step ``value`` of ``max`` inside one node (a sampler's steps)."""

    node_id: str
    class_type: str
    value: int
    max: int


@dataclass(frozen=True, slots=True)
class OverallProgress:
    """Share of the whole run done, 0..1, weighted by what takes the time (see ``run.ProgressModel``).

    It never goes down during one run; ``nodes_done`` of ``nodes_total`` count nodes, cached ones included.
    """

    fraction: float
    nodes_done: int
    nodes_total: int


@dataclass(frozen=True, slots=True)
class PreviewImage:
    node_id: str | None
    data: bytes = field(repr=False)
    mime: ImageMime


@dataclass(frozen=True, slots=True)
class OutputImage:
    """A final image: a SaveImageWebsocket frame, or a SaveImage/PreviewImage file from ``/view``."""

    node_id: str
    index: int
    data: bytes = field(repr=False)
    mime: ImageMime


@dataclass(frozen=True, slots=True)
class NodeText:
    node_id: str
    text: str


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    """The websocket dropped while this prompt was in flight; progress may skip ahead."""


@dataclass(frozen=True, slots=True)
class Completed:
    """The server reported how the run ended (``success``); final images may still be on their way."""

    prompt_id: str
    success: bool


@dataclass(frozen=True, slots=True)
class Finished:
    prompt_id: str
    images: tuple[OutputImage, ...]


RunEvent = (
    Queued
    | Started
    | CachedNodes
    | NodeExecuting
    | StepProgress
    | OverallProgress
    | PreviewImage
    | OutputImage
    | NodeText
    | ConnectionLost
    | Completed
    | Finished
)
