"""Model loaders and text encoding: they only pass small dicts along (no weights anywhere)."""

from __future__ import annotations

from typing import Any

from .base import Env, NodeDef, NodeResult, NodeRuntime

CLIP_TYPES = [
    "stable_diffusion", "stable_cascade", "sd3", "stable_audio", "mochi", "ltxv", "pixart", "cosmos",
    "lumina2", "wan", "hidream", "chroma", "ace", "omnigen2", "qwen_image", "hunyuan_image",
]  # fmt: skip
DUAL_CLIP_TYPES = ["sdxl", "sd3", "flux", "hunyuan_video", "hidream"]
WEIGHT_DTYPES = ["default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2"]
DEVICE_SPEC = [["default", "cpu"], {"advanced": True}]


def _checkpoint_spec(env: Env) -> list[Any]:
    return [list(env.settings.checkpoints), {"tooltip": "The name of the checkpoint (model) to load."}]


def _bundle(ckpt_name: str) -> tuple[Any, ...]:
    return ({"model": ckpt_name, "loras": ()}, {"clip": ckpt_name, "loras": ()}, {"vae": ckpt_name})


async def checkpoint_loader_simple(ctx: NodeRuntime, ckpt_name: str) -> NodeResult:
    return NodeResult(_bundle(ckpt_name))


async def checkpoint_loader(ctx: NodeRuntime, config_name: str, ckpt_name: str) -> NodeResult:
    return NodeResult(_bundle(ckpt_name))


async def lora_loader(
    ctx: NodeRuntime, model: dict[str, Any], clip: dict[str, Any], lora_name: str, strength_model: float,
    strength_clip: float,
) -> NodeResult:  # fmt: skip
    return NodeResult(
        (
            {**model, "loras": (*model.get("loras", ()), (lora_name, strength_model))},
            {**clip, "loras": (*clip.get("loras", ()), (lora_name, strength_clip))},
        )
    )


async def unet_loader(ctx: NodeRuntime, unet_name: str, weight_dtype: str) -> NodeResult:
    return NodeResult(({"model": unet_name, "dtype": weight_dtype, "loras": ()},))


async def dual_clip_loader(
    ctx: NodeRuntime, clip_name1: str, clip_name2: str, type: str, device: str = "default"
) -> NodeResult:
    return NodeResult(({"clip": (clip_name1, clip_name2), "type": type, "loras": ()},))


async def clip_loader(ctx: NodeRuntime, clip_name: str, type: str, device: str = "default") -> NodeResult:
    return NodeResult(({"clip": clip_name, "type": type, "loras": ()},))


async def vae_loader(ctx: NodeRuntime, vae_name: str) -> NodeResult:
    return NodeResult(({"vae": vae_name},))


async def clip_text_encode(ctx: NodeRuntime, text: str, clip: Any) -> NodeResult:
    return NodeResult(({"text": text, "clip": clip},))


async def clip_set_last_layer(ctx: NodeRuntime, clip: dict[str, Any], stop_at_clip_layer: int) -> NodeResult:
    return NodeResult(({**clip, "stop_at_clip_layer": stop_at_clip_layer},))


MODEL_NODES = [
    NodeDef(
        name="CheckpointLoaderSimple",
        display_name="Load Checkpoint",
        category="loaders",
        output=("MODEL", "CLIP", "VAE"),
        run=checkpoint_loader_simple,
        required={"ckpt_name": _checkpoint_spec},
        description="Loads a diffusion model checkpoint, diffusion models are used to denoise latents.",
        output_tooltips=(
            "The model used for denoising latents.",
            "The CLIP model used for encoding text prompts.",
            "The VAE model used for encoding and decoding images to and from latent space.",
        ),
    ),
    NodeDef(
        name="CheckpointLoader",
        display_name="Load Checkpoint With Config (DEPRECATED)",
        category="advanced/loaders",
        output=("MODEL", "CLIP", "VAE"),
        run=checkpoint_loader,
        required={
            "config_name": lambda env: [list(env.settings.configs)],
            "ckpt_name": lambda env: [list(env.settings.checkpoints)],
        },
        deprecated=True,
    ),
    NodeDef(
        name="LoraLoader",
        display_name="Load LoRA",
        category="loaders",
        output=("MODEL", "CLIP"),
        run=lora_loader,
        required={
            "model": ["MODEL", {"tooltip": "The diffusion model the LoRA will be applied to."}],
            "clip": ["CLIP", {"tooltip": "The CLIP model the LoRA will be applied to."}],
            "lora_name": lambda env: [list(env.settings.loras), {"tooltip": "The name of the LoRA."}],
            "strength_model": [
                "FLOAT",
                {
                    "default": 1.0,
                    "min": -100.0,
                    "max": 100.0,
                    "step": 0.01,
                    "tooltip": "How strongly to modify the diffusion model. This value can be negative.",
                },
            ],
            "strength_clip": [
                "FLOAT",
                {
                    "default": 1.0,
                    "min": -100.0,
                    "max": 100.0,
                    "step": 0.01,
                    "tooltip": "How strongly to modify the CLIP model. This value can be negative.",
                },
            ],
        },
        description="LoRAs are used to modify diffusion and CLIP models, altering the way in which latents "
        "are denoised such as applying styles. Multiple LoRA nodes can be linked together.",
        output_tooltips=("The modified diffusion model.", "The modified CLIP model."),
    ),
    NodeDef(
        name="UNETLoader",
        display_name="Load Diffusion Model",
        category="advanced/loaders",
        output=("MODEL",),
        run=unet_loader,
        required={"unet_name": lambda env: [list(env.settings.unets)], "weight_dtype": [WEIGHT_DTYPES]},
    ),
    NodeDef(
        name="DualCLIPLoader",
        display_name="DualCLIPLoader",
        category="advanced/loaders",
        output=("CLIP",),
        run=dual_clip_loader,
        required={
            "clip_name1": lambda env: [list(env.settings.clips)],
            "clip_name2": lambda env: [list(env.settings.clips)],
            "type": [DUAL_CLIP_TYPES],
        },
        optional={"device": DEVICE_SPEC},
        description="[Recipes]\n\nsdxl: clip-l, clip-g\nsd3: clip-l, clip-g / clip-l, t5 / clip-g, t5\n"
        "flux: clip-l, t5",
    ),
    NodeDef(
        name="CLIPLoader",
        display_name="Load CLIP",
        category="advanced/loaders",
        output=("CLIP",),
        run=clip_loader,
        required={"clip_name": lambda env: [list(env.settings.clips)], "type": [CLIP_TYPES]},
        optional={"device": DEVICE_SPEC},
    ),
    NodeDef(
        name="VAELoader",
        display_name="Load VAE",
        category="loaders",
        output=("VAE",),
        run=vae_loader,
        required={"vae_name": lambda env: [list(env.settings.vaes)]},
    ),
    NodeDef(
        name="CLIPTextEncode",
        display_name="CLIP Text Encode (Prompt)",
        category="conditioning",
        output=("CONDITIONING",),
        run=clip_text_encode,
        required={
            "text": [
                "STRING",
                {"multiline": True, "dynamicPrompts": True, "tooltip": "The text to be encoded."},
            ],
            "clip": ["CLIP", {"tooltip": "The CLIP model used for encoding the text."}],
        },
        description="Encodes a text prompt using a CLIP model into an embedding that can be used to guide "
        "the diffusion model towards generating specific images.",
        output_tooltips=("A conditioning containing the embedded text used to guide the diffusion model.",),
    ),
    NodeDef(
        name="CLIPSetLastLayer",
        display_name="CLIP Set Last Layer",
        category="conditioning",
        output=("CLIP",),
        run=clip_set_last_layer,
        required={
            "clip": ["CLIP"],
            "stop_at_clip_layer": ["INT", {"default": -1, "min": -24, "max": -1, "step": 1}],
        },
    ),
]
