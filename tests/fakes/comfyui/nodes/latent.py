"""Latent nodes (empty latents, VAE encode/decode, masks, latent upscale) and the SlowSteps test node."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PIL import Image

from tests.fakes.comfyui.errors import make_exception
from tests.fakes.comfyui.images import Latent, decode, render_latent
from tests.fakes.comfyui.settings import RAM_TOTAL

from .base import SEED_MAX, NodeDef, NodeResult, NodeRuntime
from .image import CROP_MODES

LATENT_UPSCALE_METHODS = ["nearest-exact", "bilinear", "area", "bicubic", "bislerp"]


def _size_spec(default: int, step: int, tooltip: str | None = None) -> list[Any]:
    opts: dict[str, Any] = {"default": default, "min": 16, "max": 16384, "step": step}
    if tooltip:
        opts["tooltip"] = tooltip
    return ["INT", opts]


def allocate_latent(width: int, height: int, batch: int, channels: int = 4) -> None:
    """torch.zeros of the latent on a CPU server: more than the machine has fails at once, in the real
    server's words (a 16384x16384 batch of 4096 asks for 256 GiB)."""
    size = batch * channels * (height // 8) * (width // 8) * 4
    if size > RAM_TOTAL:
        raise make_exception(
            "RuntimeError",
            "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
            f"you tried to allocate {size} bytes. Error code 12 (Cannot allocate memory)",
        )


async def empty_latent_image(ctx: NodeRuntime, width: int, height: int, batch_size: int = 1) -> NodeResult:
    allocate_latent(width, height, batch_size)
    return NodeResult((Latent(width=width // 8 * 8, height=height // 8 * 8, batch=batch_size),))


async def vae_decode(ctx: NodeRuntime, samples: Latent, vae: Any) -> NodeResult:
    return NodeResult((decode(samples, ctx.settings.decode_scale),))


def _encode(pixels: list[Image.Image], mask: list[Image.Image] | None = None) -> Latent:
    width, height = pixels[0].size
    return Latent(
        width=max(8, width // 8 * 8),
        height=max(8, height // 8 * 8),
        batch=len(pixels),
        source=tuple(pixels),
        noise_mask=tuple(mask) if mask else None,
    )


async def vae_encode(ctx: NodeRuntime, pixels: list[Image.Image], vae: Any) -> NodeResult:
    return NodeResult((_encode(pixels),))


async def vae_encode_for_inpaint(
    ctx: NodeRuntime, pixels: list[Image.Image], vae: Any, mask: list[Image.Image], grow_mask_by: int = 6
) -> NodeResult:
    return NodeResult((_encode(pixels, mask),))


async def set_latent_noise_mask(ctx: NodeRuntime, samples: Latent, mask: list[Image.Image]) -> NodeResult:
    return NodeResult((replace(samples, noise_mask=tuple(mask)),))


async def latent_upscale(
    ctx: NodeRuntime, samples: Latent, upscale_method: str, width: int, height: int, crop: str
) -> NodeResult:
    if width == 0 and height == 0:
        return NodeResult((samples,))
    if width == 0:
        width = round(samples.width * height / samples.height)
    elif height == 0:
        height = round(samples.height * width / samples.width)
    return NodeResult((samples.resized(width, height),))


async def latent_upscale_by(
    ctx: NodeRuntime, samples: Latent, upscale_method: str, scale_by: float
) -> NodeResult:
    return NodeResult((samples.resized(round(samples.width * scale_by), round(samples.height * scale_by)),))


async def slow_steps(
    ctx: NodeRuntime, samples: Latent, steps: int, delay: float, seed: int, send_previews: bool
) -> NodeResult:
    """The recordings' test node: `steps` progress updates, `delay` seconds apart, JPEG previews."""
    result = samples.sampled(seed, steps)
    for step in range(steps):
        await ctx.sleep(delay * ctx.settings.time_scale)
        preview = None
        if send_previews and ctx.settings.previews:
            image = render_latent(result, 0, 8, (step + 1) / steps)
            preview = ("JPEG", image, ctx.settings.preview_size)
        await ctx.progress(step + 1, steps, preview)
    return NodeResult((result, decode(result, 8)))


LATENT_NODES = [
    NodeDef(
        name="EmptyLatentImage",
        display_name="Empty Latent Image",
        category="latent",
        output=("LATENT",),
        run=empty_latent_image,
        required={
            "width": _size_spec(512, 8, "The width of the latent images in pixels."),
            "height": _size_spec(512, 8, "The height of the latent images in pixels."),
            "batch_size": [
                "INT",
                {"default": 1, "min": 1, "max": 4096, "tooltip": "The number of latent images in the batch."},
            ],
        },
        description="Create a new batch of empty latent images to be denoised via sampling.",
        output_tooltips=("The empty latent image batch.",),
    ),
    NodeDef(
        name="EmptySD3LatentImage",
        display_name="EmptySD3LatentImage",
        category="latent/sd3",
        output=("LATENT",),
        run=empty_latent_image,
        required={
            "width": _size_spec(1024, 16),
            "height": _size_spec(1024, 16),
            "batch_size": ["INT", {"default": 1, "min": 1, "max": 4096}],
        },
        python_module="comfy_extras.nodes_sd3",
    ),
    NodeDef(
        name="VAEDecode",
        display_name="VAE Decode",
        category="latent",
        output=("IMAGE",),
        run=vae_decode,
        required={
            "samples": ["LATENT", {"tooltip": "The latent to be decoded."}],
            "vae": ["VAE", {"tooltip": "The VAE model used for decoding the latent."}],
        },
        description="Decodes latent images back into pixel space images.",
        output_tooltips=("The decoded image.",),
    ),
    NodeDef(
        name="VAEEncode",
        display_name="VAE Encode",
        category="latent",
        output=("LATENT",),
        run=vae_encode,
        required={"pixels": ["IMAGE"], "vae": ["VAE"]},
    ),
    NodeDef(
        name="VAEEncodeForInpaint",
        display_name="VAE Encode (for Inpainting)",
        category="latent/inpaint",
        output=("LATENT",),
        run=vae_encode_for_inpaint,
        required={
            "pixels": ["IMAGE"],
            "vae": ["VAE"],
            "mask": ["MASK"],
            "grow_mask_by": ["INT", {"default": 6, "min": 0, "max": 64, "step": 1}],
        },
    ),
    NodeDef(
        name="SetLatentNoiseMask",
        display_name="Set Latent Noise Mask",
        category="latent/inpaint",
        output=("LATENT",),
        run=set_latent_noise_mask,
        required={"samples": ["LATENT"], "mask": ["MASK"]},
    ),
    NodeDef(
        name="LatentUpscale",
        display_name="Upscale Latent",
        category="latent",
        output=("LATENT",),
        run=latent_upscale,
        required={
            "samples": ["LATENT"],
            "upscale_method": [LATENT_UPSCALE_METHODS],
            "width": ["INT", {"default": 512, "min": 0, "max": 16384, "step": 8}],
            "height": ["INT", {"default": 512, "min": 0, "max": 16384, "step": 8}],
            "crop": [CROP_MODES],
        },
    ),
    NodeDef(
        name="LatentUpscaleBy",
        display_name="Upscale Latent By",
        category="latent",
        output=("LATENT",),
        run=latent_upscale_by,
        required={
            "samples": ["LATENT"],
            "upscale_method": [LATENT_UPSCALE_METHODS],
            "scale_by": ["FLOAT", {"default": 1.5, "min": 0.01, "max": 8.0, "step": 0.01}],
        },
    ),
    NodeDef(
        name="SlowSteps",
        display_name="Slow Steps (test)",
        category="testing",
        output=("LATENT", "IMAGE"),
        run=slow_steps,
        required={
            "samples": ["LATENT"],
            "steps": ["INT", {"default": 5, "min": 1, "max": 10000}],
            "delay": ["FLOAT", {"default": 0.2, "min": 0.0, "max": 10.0, "step": 0.01}],
            "seed": ["INT", {"default": 0, "min": 0, "max": SEED_MAX}],
            "send_previews": ["BOOLEAN", {"default": True}],
        },
        python_module="custom_nodes.slow_steps_test_node",
    ),
]
