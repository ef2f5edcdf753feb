"""Which nodes of a workflow deliver results, what kind of results, and how a batch's images re-run.

ComfyUI marks a class as an output with ``output_node`` in ``/object_info``; what it writes is only
known once it ran (the bot tells files apart by their bytes). For the classes people use this table
says it in advance, so ``comfycord check`` can say what each template delivers, and refuse a template
whose outputs write nothing a chat can show (latents, checkpoints, 3D models). A class the table does
not know (a custom node) is taken at its word: whatever files or texts it lists are delivered by type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from bot.media.kinds import OutputKind
from bot.templates.graph import class_of, describe_node, links
from bot.templates.model import WEBSOCKET_OUTPUT, Graph, ParamType, Template, VaryMode

IMAGE, ANIMATION, VIDEO, AUDIO, TEXT = (
    OutputKind.IMAGE,
    OutputKind.ANIMATION,
    OutputKind.VIDEO,
    OutputKind.AUDIO,
    OutputKind.TEXT,
)

DELIVERS: Final[Mapping[str, tuple[OutputKind, ...]]] = {
    "SaveImage": (IMAGE,),
    "PreviewImage": (IMAGE,),
    "SaveImageWebsocket": (IMAGE,),
    "SaveAnimatedWEBP": (ANIMATION,),
    "SaveAnimatedPNG": (ANIMATION,),
    "SaveWEBM": (VIDEO,),
    "SaveVideo": (VIDEO,),
    "VHS_VideoCombine": (VIDEO, ANIMATION),
    "SaveAudio": (AUDIO,),
    "SaveAudioMP3": (AUDIO,),
    "SaveAudioOpus": (AUDIO,),
    "PreviewAudio": (AUDIO,),
    "PreviewAny": (TEXT,),
    "ShowText|pysssss": (TEXT,),
    # Output nodes whose files a chat cannot show.
    "SaveLatent": (),
    "CheckpointSave": (),
    "ImageOnlyCheckpointSave": (),
    "CLIPSave": (),
    "VAESave": (),
    "ModelSave": (),
    "SaveLoRA": (),
    "SaveGLB": (),
    "Preview3D": (),
}
"""What the output classes people use deliver; an empty tuple: nothing a chat can show."""

SAMPLERS_WITH_NOISE_INDEX: Final = frozenset(
    {"KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced"}
)
"""Samplers that draw each batch entry's noise by its index in the batch (the latent's ``batch_index``),
so one entry can be made again alone, identical, through LatentFromBatch."""


def delivers(class_type: str) -> tuple[OutputKind, ...] | None:
    """The kinds a class delivers (empty: nothing showable); None when it is not a known output."""
    return DELIVERS.get(class_type)


def _sinks(graph: Graph) -> list[str]:
    fed = {source for _, _, source in links(graph)}
    return [node_id for node_id in graph if node_id not in fed]


def infer_outputs(graph: Graph) -> tuple[str, ...]:
    """Output nodes of a workflow without declared ones: every known class that delivers something;
    without any, the unknown nodes nothing else reads (custom output nodes end a graph)."""
    known = tuple(n for n in graph if delivers(class_of(graph, n)))
    if known:
        return known
    guessed = tuple(n for n in _sinks(graph) if delivers(class_of(graph, n)) is None)
    if guessed:
        return guessed
    # Only outputs that post nothing (a SaveLatent): named, so the problem says which and why.
    return tuple(n for n in graph if delivers(class_of(graph, n)) == ())


def undeliverable(graph: Graph, outputs: tuple[str, ...]) -> list[str]:
    """Output nodes known to write nothing a chat can show (for the load-time problem)."""
    return [n for n in outputs if delivers(class_of(graph, n)) == ()]


def describe_outputs(template: Template, object_info: Mapping[str, Any] | None = None) -> str:
    """What a template delivers, for ``comfycord check``: "image (Save Image, websocket), text (...)"."""
    parts: list[str] = []
    for node_id in template.outputs:
        class_type = template.class_type(node_id)
        kinds = delivers(class_type)
        if kinds is None:
            info = object_info.get(class_type) if object_info is not None else None
            if isinstance(info, Mapping) and info.get("output_node") is False:
                continue  # a guessed output that is not one here: ComfyUI will not run it
            what = "files/text by type"
        elif not kinds:
            what = "nothing postable"
        else:
            what = "/".join(k.value for k in kinds)
        how = ", websocket" if class_type == WEBSOCKET_OUTPUT else ""
        parts.append(f"{what} ({describe_node(template.graph, node_id)}{how})")
    return "; ".join(parts) or "-"


def batch_target(template: Template) -> tuple[str, str] | None:
    """(param name, latent node id) of the parameter that sets the batch size, if there is one."""
    for param in template.params:
        for target in param.targets:
            if target.input == "batch_size":
                return param.name, target.node_id
    return None


def vary_mode(template: Template) -> VaryMode:
    """The template's declared mode, else the default: noise index where the batch's latent goes
    straight into samplers that honour it; else seed offset when there is a seed; else no Vary."""
    found = batch_target(template)
    if found is None:
        return VaryMode.OFF
    if template.vary is not None:
        return template.vary
    _, latent = found
    readers = [node_id for node_id, _, source in links(template.graph) if source == latent]
    if readers and all(class_of(template.graph, n) in SAMPLERS_WITH_NOISE_INDEX for n in readers):
        return VaryMode.NOISE_INDEX
    if any(p.type is ParamType.SEED for p in template.params):
        return VaryMode.SEED_OFFSET
    return VaryMode.OFF
