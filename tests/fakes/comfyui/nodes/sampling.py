"""Samplers (KSampler, KSamplerAdvanced, SamplerCustomAdvanced and its helper nodes)."""

from __future__ import annotations

import json
import zlib
from typing import Any

from tests.fakes.comfyui.images import Latent, render_latent

from .base import NodeDef, NodeResult, NodeRuntime, seed_spec

SAMPLERS = [
    "euler", "euler_cfg_pp", "euler_ancestral", "euler_ancestral_cfg_pp", "heun", "heunpp2", "dpm_2",
    "dpm_2_ancestral", "lms", "dpm_fast", "dpm_adaptive", "dpmpp_2s_ancestral", "dpmpp_2s_ancestral_cfg_pp",
    "dpmpp_sde", "dpmpp_sde_gpu", "dpmpp_2m", "dpmpp_2m_cfg_pp", "dpmpp_2m_sde", "dpmpp_2m_sde_gpu",
    "dpmpp_2m_sde_heun", "dpmpp_2m_sde_heun_gpu", "dpmpp_3m_sde", "dpmpp_3m_sde_gpu", "ddpm", "lcm", "ipndm",
    "ipndm_v", "deis", "res_multistep", "res_multistep_cfg_pp", "res_multistep_ancestral",
    "res_multistep_ancestral_cfg_pp", "gradient_estimation", "gradient_estimation_cfg_pp", "er_sde",
    "seeds_2", "seeds_3", "sa_solver", "sa_solver_pece", "ddim", "uni_pc", "uni_pc_bh2",
]  # fmt: skip
SCHEDULERS = [
    "simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta", "normal", "linear_quadratic",
    "kl_optimal",
]  # fmt: skip
CUSTOM_SAMPLER_MODULE = "comfy_extras.nodes_custom_sampler"

CFG_TOOLTIP = (
    "The Classifier-Free Guidance scale balances creativity and adherence to the prompt. Higher values "
    "result in images more closely matching the prompt however too high values will negatively impact "
    "quality."
)
DENOISE_TOOLTIP = (
    "The amount of denoising applied, lower values will maintain the structure of the initial image allowing "
    "for image to image sampling."
)


def conditioning_salt(*conditioning: Any) -> int:
    """A stable digest of the model/prompt objects, so the picture depends on them as well as the seed."""
    return zlib.crc32(json.dumps(conditioning, sort_keys=True, default=str).encode())


async def run_sampler(
    ctx: NodeRuntime, latent: Latent, seed: int, steps: int, denoise: float = 1.0, salt: int = 0
) -> Latent:
    """Report `steps` progress updates (value step+1) with Latent2RGB-style JPEG previews when enabled."""
    result = latent.sampled(seed, steps, denoise, salt)
    for step in range(steps):
        await ctx.sleep(ctx.settings.step_delay)
        preview = None
        if ctx.settings.previews:
            preview = ("JPEG", render_latent(result, 0, 8, (step + 1) / steps), ctx.settings.preview_size)
        await ctx.progress(step + 1, steps, preview)
    return result


async def ksampler(
    ctx: NodeRuntime,
    model: Any,
    seed: int,
    steps: int,
    cfg: float,
    sampler_name: str,
    scheduler: str,
    positive: Any,
    negative: Any,
    latent_image: Latent,
    denoise: float = 1.0,
) -> NodeResult:
    salt = conditioning_salt(model, positive, negative)
    return NodeResult((await run_sampler(ctx, latent_image, seed, steps, denoise, salt),))


async def ksampler_advanced(
    ctx: NodeRuntime,
    model: Any,
    add_noise: str,
    noise_seed: int,
    steps: int,
    cfg: float,
    sampler_name: str,
    scheduler: str,
    positive: Any,
    negative: Any,
    latent_image: Latent,
    start_at_step: int,
    end_at_step: int,
    return_with_leftover_noise: str,
) -> NodeResult:
    count = min(end_at_step, steps) - start_at_step
    if count <= 0:
        return NodeResult((latent_image,))
    seed = noise_seed if add_noise == "enable" or latent_image.seed is None else latent_image.seed
    salt = latent_image.salt if add_noise == "disable" else conditioning_salt(model, positive, negative)
    return NodeResult((await run_sampler(ctx, latent_image, seed, count, salt=salt),))


async def sampler_custom_advanced(
    ctx: NodeRuntime,
    noise: dict[str, Any],
    guider: Any,
    sampler: Any,
    sigmas: dict[str, Any],
    latent_image: Latent,
) -> NodeResult:
    steps = int(sigmas.get("steps", 0))
    if steps <= 0:
        return NodeResult((latent_image, latent_image))
    seed, denoise = int(noise.get("seed", 0)), float(sigmas.get("denoise", 1.0))
    out = await run_sampler(ctx, latent_image, seed, steps, denoise, conditioning_salt(guider))
    return NodeResult((out, out))


async def random_noise(ctx: NodeRuntime, noise_seed: int) -> NodeResult:
    return NodeResult(({"noise_seed": noise_seed, "seed": noise_seed},))


async def ksampler_select(ctx: NodeRuntime, sampler_name: str) -> NodeResult:
    return NodeResult(({"sampler": sampler_name},))


async def basic_scheduler(
    ctx: NodeRuntime, model: Any, scheduler: str, steps: int, denoise: float
) -> NodeResult:
    return NodeResult(({"scheduler": scheduler, "steps": steps if denoise > 0 else 0, "denoise": denoise},))


async def basic_guider(ctx: NodeRuntime, model: Any, conditioning: Any) -> NodeResult:
    return NodeResult(({"guider": "basic", "model": model, "conditioning": conditioning},))


async def cfg_guider(ctx: NodeRuntime, model: Any, positive: Any, negative: Any, cfg: float) -> NodeResult:
    return NodeResult(
        ({"guider": "cfg", "model": model, "positive": positive, "negative": negative, "cfg": cfg},)
    )


async def flux_guidance(ctx: NodeRuntime, conditioning: dict[str, Any], guidance: float) -> NodeResult:
    return NodeResult(({**conditioning, "guidance": guidance},))


async def conditioning_zero_out(ctx: NodeRuntime, conditioning: dict[str, Any]) -> NodeResult:
    return NodeResult(({**conditioning, "text": "", "zeroed": True},))


def _ksampler_inputs(seed_name: str) -> dict[str, Any]:
    return {
        "model": ["MODEL", {"tooltip": "The model used for denoising the input latent."}],
        seed_name: seed_spec("The random seed used for creating the noise."),
        "steps": [
            "INT",
            {
                "default": 20,
                "min": 1,
                "max": 10000,
                "tooltip": "The number of steps used in the denoising process.",
            },
        ],
        "cfg": [
            "FLOAT",
            {"default": 8.0, "min": 0.0, "max": 100.0, "step": 0.1, "round": 0.01, "tooltip": CFG_TOOLTIP},
        ],
        "sampler_name": [
            SAMPLERS,
            {
                "tooltip": "The algorithm used when sampling, this can affect the quality, speed, and style "
                "of the generated output."
            },
        ],
        "scheduler": [
            SCHEDULERS,
            {"tooltip": "The scheduler controls how noise is gradually removed to form the image."},
        ],
        "positive": [
            "CONDITIONING",
            {"tooltip": "The conditioning describing the attributes you want to include in the image."},
        ],
        "negative": [
            "CONDITIONING",
            {"tooltip": "The conditioning describing the attributes you want to exclude from the image."},
        ],
        "latent_image": ["LATENT", {"tooltip": "The latent image to denoise."}],
    }


_KSAMPLER_ADVANCED_INPUTS: dict[str, Any] = {
    "model": ["MODEL"],
    "add_noise": [["enable", "disable"]],
    "noise_seed": seed_spec(),
    "steps": ["INT", {"default": 20, "min": 1, "max": 10000}],
    "cfg": ["FLOAT", {"default": 8.0, "min": 0.0, "max": 100.0, "step": 0.1, "round": 0.01}],
    "sampler_name": [SAMPLERS],
    "scheduler": [SCHEDULERS],
    "positive": ["CONDITIONING"],
    "negative": ["CONDITIONING"],
    "latent_image": ["LATENT"],
    "start_at_step": ["INT", {"default": 0, "min": 0, "max": 10000}],
    "end_at_step": ["INT", {"default": 10000, "min": 0, "max": 10000}],
    "return_with_leftover_noise": [["disable", "enable"]],
}

SAMPLING_NODES = [
    NodeDef(
        name="KSampler",
        display_name="KSampler",
        category="sampling",
        output=("LATENT",),
        run=ksampler,
        required={
            **_ksampler_inputs("seed"),
            "denoise": [
                "FLOAT",
                {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01, "tooltip": DENOISE_TOOLTIP},
            ],
        },
        description="Uses the provided model, positive and negative conditioning to denoise the latent "
        "image.",
        output_tooltips=("The denoised latent.",),
    ),
    NodeDef(
        name="KSamplerAdvanced",
        display_name="KSampler (Advanced)",
        category="sampling",
        output=("LATENT",),
        run=ksampler_advanced,
        required=_KSAMPLER_ADVANCED_INPUTS,
    ),
    NodeDef(
        name="SamplerCustomAdvanced",
        display_name="SamplerCustomAdvanced",
        category="sampling/custom_sampling",
        output=("LATENT", "LATENT"),
        output_name=("output", "denoised_output"),
        run=sampler_custom_advanced,
        required={
            "noise": ["NOISE"],
            "guider": ["GUIDER"],
            "sampler": ["SAMPLER"],
            "sigmas": ["SIGMAS"],
            "latent_image": ["LATENT"],
        },
        python_module=CUSTOM_SAMPLER_MODULE,
    ),
    NodeDef(
        name="RandomNoise",
        display_name="RandomNoise",
        category="sampling/custom_sampling/noise",
        output=("NOISE",),
        run=random_noise,
        required={"noise_seed": seed_spec()},
        python_module=CUSTOM_SAMPLER_MODULE,
    ),
    NodeDef(
        name="KSamplerSelect",
        display_name="KSamplerSelect",
        category="sampling/custom_sampling/samplers",
        output=("SAMPLER",),
        run=ksampler_select,
        required={"sampler_name": [SAMPLERS]},
        python_module=CUSTOM_SAMPLER_MODULE,
    ),
    NodeDef(
        name="BasicScheduler",
        display_name="BasicScheduler",
        category="sampling/custom_sampling/schedulers",
        output=("SIGMAS",),
        run=basic_scheduler,
        required={
            "model": ["MODEL"],
            "scheduler": [SCHEDULERS],
            "steps": ["INT", {"default": 20, "min": 1, "max": 10000}],
            "denoise": ["FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01}],
        },
        python_module=CUSTOM_SAMPLER_MODULE,
    ),
    NodeDef(
        name="BasicGuider",
        display_name="BasicGuider",
        category="sampling/custom_sampling/guiders",
        output=("GUIDER",),
        run=basic_guider,
        required={"model": ["MODEL"], "conditioning": ["CONDITIONING"]},
        python_module=CUSTOM_SAMPLER_MODULE,
    ),
    NodeDef(
        name="CFGGuider",
        display_name="CFGGuider",
        category="sampling/custom_sampling/guiders",
        output=("GUIDER",),
        run=cfg_guider,
        required={
            "model": ["MODEL"],
            "positive": ["CONDITIONING"],
            "negative": ["CONDITIONING"],
            "cfg": ["FLOAT", {"default": 8.0, "min": 0.0, "max": 100.0, "step": 0.1, "round": 0.01}],
        },
        python_module=CUSTOM_SAMPLER_MODULE,
    ),
    NodeDef(
        name="FluxGuidance",
        display_name="FluxGuidance",
        category="advanced/conditioning/flux",
        output=("CONDITIONING",),
        run=flux_guidance,
        required={
            "conditioning": ["CONDITIONING"],
            "guidance": ["FLOAT", {"default": 3.5, "min": 0.0, "max": 100.0, "step": 0.1}],
        },
        python_module="comfy_extras.nodes_flux",
    ),
    NodeDef(
        name="ConditioningZeroOut",
        display_name="ConditioningZeroOut",
        category="advanced/conditioning",
        output=("CONDITIONING",),
        run=conditioning_zero_out,
        required={"conditioning": ["CONDITIONING"]},
    ),
]
