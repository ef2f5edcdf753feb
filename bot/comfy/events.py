"""What a run of one prompt reports, in order, to whoever drives it (the job engine, the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.comfy.protocol import ImageMime
from bot.media.kinds import OutputKind


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
class RunOutput:
    """A final result: a SaveImageWebsocket frame, a file an output node wrote (fetched through
    ``/view``: an image, animation, video or audio file), or a text it showed (UTF-8 ``data``).

    ``index`` counts the node's results of the same run; ``filename`` is the server's name of a file.
    """

    node_id: str
    index: int
    data: bytes = field(repr=False)
    mime: str
    kind: OutputKind = OutputKind.IMAGE
    filename: str = ""

    @property
    def text(self) -> str:
        """The text of a text output."""
        return self.data.decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class NodeText:
    node_id: str
    text: str


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    """The websocket dropped while this prompt was in flight; progress may skip ahead."""


@dataclass(frozen=True, slots=True)
class Completed:
    """The server reported how the run ended (``success``); final results may still be on their way."""

    prompt_id: str
    success: bool


@dataclass(frozen=True, slots=True)
class Finished:
    prompt_id: str
    outputs: tuple[RunOutput, ...]


RunEvent = (
    Queued
    | Started
    | CachedNodes
    | NodeExecuting
    | StepProgress
    | OverallProgress
    | PreviewImage
    | RunOutput
    | NodeText
    | ConnectionLost
    | Completed
    | Finished
)
