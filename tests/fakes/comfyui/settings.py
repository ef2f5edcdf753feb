"""Mutable knobs of the fake ComfyUI server (read when used, so tests may change them live)."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_MAX_UPLOAD_SIZE = 100 * 1024 * 1024
RAM_TOTAL = 17179869184
"""The memory /system_stats reports; a latent that would not fit fails like a real CPU server's."""
RAM_FREE = 12884901888

DEFAULT_CHECKPOINTS = (
    "v1-5-pruned-emaonly.safetensors",
    "sd_xl_base_1.0.safetensors",
    "sd_xl_refiner_1.0.safetensors",
    "512-inpainting-ema.safetensors",
)
DEFAULT_LORAS = ("detail_tweaker.safetensors", "pixel_art.safetensors")
DEFAULT_VAES = ("ae.safetensors", "sdxl_vae.safetensors")
DEFAULT_UNETS = ("flux1-dev.safetensors", "flux1-schnell.safetensors")
DEFAULT_CLIPS = ("clip_l.safetensors", "t5xxl_fp16.safetensors", "t5xxl_fp8_e4m3fn.safetensors")
DEFAULT_UPSCALE_MODELS = ("4x-UltraSharp.pth", "RealESRGAN_x4plus.pth", "RealESRGAN_x2plus.pth")
DEFAULT_CONFIGS = ("v1-inference.yaml", "v2-inference.yaml")


@dataclass
class FakeSettings:
    """Every knob of the fake; `FakeComfyUI` exposes each one as a read/write attribute."""

    step_delay: float = 0.0
    """Seconds slept before each sampler step (KSampler & co.); 0 = as fast as possible (still yields)."""
    previews: bool = True
    """Live JPEG previews from samplers/SlowSteps (the recordings ran with --preview-method auto)."""
    preview_size: int = 512
    """Previews are ImageOps.contain-ed to this size (ComfyUI's --preview-size)."""
    time_scale: float = 1.0
    """Multiplier applied to the SlowSteps node's own `delay` input."""
    decode_scale: int = 8
    """Decoded images are (latent pixel size // decode_scale): keeps generated images small."""
    max_upload_size: float | None = None
    """Request body limit in bytes; None = ComfyUI default 100 MiB (reported as an int by /features,
    like the real server; a configured value is reported as a float, like --max-upload-size)."""
    upload_delay: float = 0.0
    """Seconds slept inside /upload/image and /upload/mask before answering."""
    video_crf: float = 23.0
    """The H.264 quality SaveVideo / VHS_VideoCombine write with (lower = larger files; 0 = lossless)."""
    fail_next_prompts: int = 0
    """POST /prompt answers a 500 HTML page this many times (the counter decrements)."""
    checkpoints: list[str] = field(default_factory=lambda: list(DEFAULT_CHECKPOINTS))
    loras: list[str] = field(default_factory=lambda: list(DEFAULT_LORAS))
    vaes: list[str] = field(default_factory=lambda: list(DEFAULT_VAES))
    unets: list[str] = field(default_factory=lambda: list(DEFAULT_UNETS))
    clips: list[str] = field(default_factory=lambda: list(DEFAULT_CLIPS))
    upscale_models: list[str] = field(default_factory=lambda: list(DEFAULT_UPSCALE_MODELS))
    configs: list[str] = field(default_factory=lambda: list(DEFAULT_CONFIGS))
    device: str = "cpu"
    """What /system_stats reports: "cpu" (as recorded: `--cpu`, the device is the CPU) or "cuda" (a GPU)."""
    import_failures: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    """Node modules that failed to import at start: (module path under the root, reason, node classes it
    would have provided). Those classes are absent from /object_info and unknown to POST /prompt, and
    /internal/logs tells why, as on a real server (see FakeComfyUI.fail_import)."""

    def unavailable(self, class_type: str) -> bool:
        return any(class_type in nodes for _, _, nodes in self.import_failures)

    @property
    def max_upload_bytes(self) -> int:
        """The enforced limit (aiohttp's client_max_size is `round(...)` of the configured size)."""
        return DEFAULT_MAX_UPLOAD_SIZE if self.max_upload_size is None else round(self.max_upload_size)

    def features(self) -> dict[str, object]:
        """Body of GET /features and of the websocket `feature_flags` reply."""
        size: float = DEFAULT_MAX_UPLOAD_SIZE if self.max_upload_size is None else float(self.max_upload_size)
        return {"supports_preview_metadata": True, "max_upload_size": size}
