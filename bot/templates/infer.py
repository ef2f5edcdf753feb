"""Guess a template's parameters from a bare API-format graph (no manifest).

Generalises what the ComfyUI API examples do by hand: the prompt and negative are found by following
the sampler's ``positive``/``negative`` links (or its guider's) back to the text encoders, through any
conditioning nodes in between; seed, steps, cfg, size, images and model names are found by input name
and node class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from bot.templates.graph import class_of, inputs_of, link_source
from bot.templates.model import Graph, Param, ParamType, Target, Value

#: Text encoders and the inputs that carry the prompt (all of them get the same text).
TEXT_ENCODERS: dict[str, tuple[str, ...]] = {
    "CLIPTextEncode": ("text",),
    "CLIPTextEncodeSDXL": ("text_g", "text_l"),
    "CLIPTextEncodeSDXLRefiner": ("text",),
    "CLIPTextEncodeFlux": ("clip_l", "t5xxl"),
    "CLIPTextEncodeSD3": ("clip_l", "clip_g", "t5xxl"),
    "CLIPTextEncodeHunyuanDiT": ("bert", "mt5xl"),
}
#: Nodes that discard the text of their input conditioning (a Flux negative is often one).
_ZERO_OUT = frozenset({"ConditioningZeroOut"})
_POLARITY_INPUTS = {"positive": ("positive", "cond1", "cond2"), "negative": ("negative",)}
#: Model loaders whose file name becomes a choice offered by the backend: class -> (input, param name).
MODEL_LOADERS: dict[str, tuple[str, str, str]] = {
    "CheckpointLoaderSimple": ("ckpt_name", "checkpoint", "Checkpoint (model) to use"),
    "UNETLoader": ("unet_name", "model", "Diffusion model to use"),
    "UpscaleModelLoader": ("model_name", "upscale_model", "Upscale model to use"),
}


def _text_inputs(class_type: str, inputs: Iterable[str]) -> tuple[str, ...] | None:
    """The prompt inputs of a text encoder, or None when the class is not one."""
    names = set(inputs)
    if class_type in TEXT_ENCODERS:
        return tuple(n for n in TEXT_ENCODERS[class_type] if n in names)
    if "TextEncode" in class_type:
        return tuple(n for n in ("text", "prompt") if n in names)
    return None


def _string_source(graph: Graph, node_id: str) -> Target | None:
    """A primitive string node feeding a text encoder (its single text value is the prompt)."""
    class_type = class_of(graph, node_id)
    if not any(word in class_type for word in ("String", "Text", "Primitive")):
        return None
    texts = [name for name, value in inputs_of(graph, node_id).items() if isinstance(value, str)]
    return Target(node_id, texts[0]) if len(texts) == 1 else None


def _walk(graph: Graph, node_id: str, polarity: str, seen: set[str], found: list[Target]) -> None:
    if node_id in seen or node_id not in graph:
        return
    seen.add(node_id)
    class_type = class_of(graph, node_id)
    if class_type in _ZERO_OUT:
        return
    inputs = inputs_of(graph, node_id)
    text_inputs = _text_inputs(class_type, inputs)
    if text_inputs is not None:
        for name in text_inputs:
            value = inputs[name]
            if isinstance(value, str):
                found.append(Target(node_id, name))
            elif (source := link_source(value)) is not None and (
                target := _string_source(graph, source)
            ) is not None:
                found.append(target)
        return
    linked = {name for name, value in inputs.items() if link_source(value) is not None}
    polar = [n for names in _POLARITY_INPUTS.values() for n in names if n in linked]
    if polar:
        follow = [n for n in _POLARITY_INPUTS[polarity] if n in linked]
    else:
        follow = sorted(n for n in linked if "conditioning" in n)
    for name in follow:
        source = link_source(inputs[name])
        if source is not None:
            _walk(graph, source, polarity, seen, found)


def prompt_targets(graph: Graph) -> tuple[tuple[Target, ...], tuple[Target, ...]]:
    """Text targets of the positive and the negative prompt, found from every sampler."""
    positive: list[Target] = []
    negative: list[Target] = []
    for node_id in graph:
        inputs = inputs_of(graph, node_id)
        for polarity, found in (("positive", positive), ("negative", negative)):
            if (source := link_source(inputs.get(polarity))) is not None and "latent_image" in inputs:
                _walk(graph, source, polarity, set(), found)
            elif (guider := link_source(inputs.get("guider"))) is not None and guider in graph:
                guider_inputs = inputs_of(graph, guider)
                has_polar = any(n in guider_inputs for names in _POLARITY_INPUTS.values() for n in names)
                if has_polar or polarity == "positive":
                    _walk(graph, guider, polarity, set(), found)
    positive_unique = tuple(dict.fromkeys(positive))
    negative_unique = tuple(t for t in dict.fromkeys(negative) if t not in positive_unique)
    return positive_unique, negative_unique


def _value_targets(
    graph: Graph, names: Sequence[str], accept: Callable[[object], bool], classes: Callable[[str], bool]
) -> tuple[Target, ...]:
    targets: list[Target] = []
    for node_id in graph:
        if not classes(class_of(graph, node_id)):
            continue
        inputs = inputs_of(graph, node_id)
        targets.extend(Target(node_id, name) for name in names if name in inputs and accept(inputs[name]))
    return tuple(targets)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_text(value: object) -> bool:
    return isinstance(value, str)


def _any_class(_: str) -> bool:
    return True


def _class_is(wanted: str) -> Callable[[str], bool]:
    return lambda class_type: class_type == wanted


def _values(graph: Graph, targets: Sequence[Target]) -> list[object]:
    return [inputs_of(graph, t.node_id)[t.input] for t in targets if t.input is not None]


def _common(values: Sequence[object]) -> Value | None:
    """The shared value of all targets, or None (the targets keep their own values)."""
    first = values[0] if values else None
    if isinstance(first, str | int | float) and all(v == first and type(v) is type(first) for v in values):
        return first
    return None


def _numbers(values: Sequence[object]) -> list[float]:
    return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]


def _number_param(
    graph: Graph,
    name: str,
    kind: ParamType,
    description: str,
    targets: tuple[Target, ...],
    low: float,
    high: float,
    step: int | None = None,
) -> Param:
    values = _values(graph, targets)
    numbers = _numbers(values)
    low = min([low, *numbers])
    high = max([high, *numbers])
    default = _common(values)
    if kind is ParamType.INT:
        if step is not None and any(int(n) % step for n in numbers):
            step = None
        return Param(
            name, kind, description, targets, default=default, min=int(low), max=int(high), step=step
        )
    if isinstance(default, int):
        default = float(default)
    return Param(name, kind, description, targets, default=default, min=low, max=high)


def _step_split(graph: Graph) -> bool:
    """True when samplers share the steps between them (base/refiner), so steps must not be rewritten."""
    for node_id in graph:
        inputs = inputs_of(graph, node_id)
        steps, start, end = inputs.get("steps"), inputs.get("start_at_step", 0), inputs.get("end_at_step")
        if not (isinstance(steps, int) and isinstance(start, int)):
            continue
        if start > 0 or (isinstance(end, int) and end < steps):
            return True
    return False


def _numbered(base: str, index: int) -> str:
    return base if index == 0 else f"{base}_{index + 1}"


#: What marks the area to change in a LoadImageMask image, by its ``channel`` input. ComfyUI takes the
#: channel's value as the mask, except alpha, which it inverts (transparent = masked); alpha is the
#: node's default.
MASK_DESCRIPTIONS = {
    "alpha": "Mask image (transparent = the area to change)",
    "red": "Mask image (white = the area to change; its red channel is read)",
    "green": "Mask image (white = the area to change; its green channel is read)",
    "blue": "Mask image (white = the area to change; its blue channel is read)",
}


def mask_description(graph: Graph, node_id: str) -> str:
    """The description of a LoadImageMask's image, for the channel it reads."""
    channel = inputs_of(graph, node_id).get("channel", "alpha")
    if isinstance(channel, str) and channel in MASK_DESCRIPTIONS:
        return MASK_DESCRIPTIONS[channel]
    return "Mask image (its chosen channel marks the area to change)"


def _file_params(graph: Graph) -> list[Param]:
    params: list[Param] = []
    for class_type, base, kind in (
        ("LoadImage", "image", ParamType.IMAGE),
        ("LoadImageMask", "mask", ParamType.MASK),
    ):
        targets = _value_targets(graph, ["image"], _is_text, _class_is(class_type))
        for index, target in enumerate(targets):
            description = (
                "Input image" if kind is ParamType.IMAGE else mask_description(graph, target.node_id)
            )
            params.append(Param(_numbered(base, index), kind, description, (target,), required=True))
    return params


def _model_params(graph: Graph) -> list[Param]:
    params: list[Param] = []
    for class_type, (input_name, base, description) in MODEL_LOADERS.items():
        targets = _value_targets(graph, [input_name], _is_text, _class_is(class_type))
        for index, target in enumerate(targets):
            default = _common(_values(graph, (target,)))
            params.append(
                Param(_numbered(base, index), ParamType.CHOICE, description, (target,), default=default)
            )
    return params


def infer_params(graph: Graph) -> tuple[Param, ...]:
    """The parameters a template without a manifest gets, in option order."""
    params: list[Param] = []
    positive, negative = prompt_targets(graph)
    if positive:
        params.append(Param("prompt", ParamType.TEXT, "What to draw", positive, required=True))
    files = _file_params(graph)
    params.extend(files)
    if negative:
        default = _common(_values(graph, negative))
        params.append(Param("negative", ParamType.TEXT, "What to avoid", negative, default=default))
    params.extend(_model_params(graph))

    def latent(class_type: str) -> bool:
        return class_type.startswith("Empty") and "Latent" in class_type

    for name, description, high in (
        ("width", "Image width in pixels", 2048),
        ("height", "Image height in pixels", 2048),
    ):
        if targets := _value_targets(graph, [name], _is_int, latent):
            params.append(_number_param(graph, name, ParamType.INT, description, targets, 64, high, step=8))
    if targets := _value_targets(graph, ["batch_size"], _is_int, latent):
        params.append(_number_param(graph, "batch_size", ParamType.INT, "Images per run", targets, 1, 4))
    if not _step_split(graph) and (targets := _value_targets(graph, ["steps"], _is_int, _any_class)):
        params.append(_number_param(graph, "steps", ParamType.INT, "Sampling steps", targets, 1, 150))
    if targets := _value_targets(graph, ["cfg"], _is_number, _any_class):
        params.append(
            _number_param(
                graph, "cfg", ParamType.FLOAT, "How closely to follow the prompt (CFG)", targets, 0, 30
            )
        )
    if targets := _value_targets(graph, ["guidance"], _is_number, _any_class):
        params.append(_number_param(graph, "guidance", ParamType.FLOAT, "Flux guidance", targets, 0, 100))
    if files and (targets := _value_targets(graph, ["denoise"], _is_number, _any_class)):
        params.append(
            _number_param(
                graph, "denoise", ParamType.FLOAT, "How much to change the input (0-1)", targets, 0, 1
            )
        )
    for input_name, name, description in (
        ("sampler_name", "sampler", "Sampler"),
        ("scheduler", "scheduler", "Noise schedule"),
    ):
        if targets := _value_targets(graph, [input_name], _is_text, _any_class):
            default = _common(_values(graph, targets))
            params.append(Param(name, ParamType.CHOICE, description, targets, default=default))
    if targets := _value_targets(graph, ["seed", "noise_seed"], _is_int, _any_class):
        params.append(Param("seed", ParamType.SEED, "Random seed (empty = random)", targets))
    return tuple(params)
