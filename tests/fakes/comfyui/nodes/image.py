"""Image nodes: loading, saving (disk and websocket), simple transforms, model upscaling."""

from __future__ import annotations

import json
import os
import random
import re
from typing import Any

from PIL import Image, ImageOps
from PIL.PngImagePlugin import PngInfo

from tests.fakes.comfyui.images import invert
from tests.fakes.comfyui.storage import Storage, open_image, save_image_path

from .base import Env, Fresh, NodeDef, NodeResult, NodeRuntime

UPSCALE_METHODS = ["nearest-exact", "bilinear", "area", "bicubic", "lanczos"]
RESAMPLE = {
    "nearest-exact": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "area": Image.Resampling.BOX,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "bislerp": Image.Resampling.BICUBIC,
}
CROP_MODES = ["disabled", "center"]
IMAGE_HIDDEN = {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}
SAVE_DESCRIPTION = "Saves the input images to your ComfyUI output directory."


def resize(image: Image.Image, width: int, height: int, method: str, crop: str = "disabled") -> Image.Image:
    """comfy.utils.common_upscale on one image (crop="center" keeps the target aspect ratio)."""
    width, height = max(1, width), max(1, height)
    if crop == "center":
        old_w, old_h = image.size
        old_aspect, new_aspect = old_w / old_h, width / height
        x = y = 0
        if old_aspect > new_aspect:
            x = round((old_w - old_w * (new_aspect / old_aspect)) / 2)
        elif old_aspect < new_aspect:
            y = round((old_h - old_h * (old_aspect / new_aspect)) / 2)
        image = image.crop((x, y, old_w - x, old_h - y))
    return image.resize((width, height), RESAMPLE.get(method, Image.Resampling.BILINEAR))


def _image_spec(env: Env) -> list[Any]:
    return [env.storage.input_images(), {"image_upload": True}]


def _validate_image(env: Env, inputs: dict[str, Any]) -> bool | str:
    image = inputs["image"]
    if not env.storage.exists_annotated(image):
        return f"Invalid image file: {image}"
    return True


def _image_hash(env: Env, inputs: dict[str, Any]) -> str:
    path = env.storage.annotated_path(inputs["image"])
    return Storage.file_hash(path) if os.path.isfile(path) else path


async def load_image(ctx: NodeRuntime, image: str) -> NodeResult:
    picture = ImageOps.exif_transpose(open_image(ctx.storage.annotated_path(image)))
    if "A" in picture.getbands():
        mask = ImageOps.invert(picture.getchannel("A"))
    else:
        mask = Image.new("L", (64, 64), 0)
    return NodeResult(([picture.convert("RGB")], [mask]))


async def load_image_mask(ctx: NodeRuntime, image: str, channel: str) -> NodeResult:
    picture = ImageOps.exif_transpose(open_image(ctx.storage.annotated_path(image)))
    band = {"alpha": "A", "red": "R", "green": "G", "blue": "B"}[channel]
    if picture.mode not in ("RGBA", "RGB", "LA", "L"):
        picture = picture.convert("RGBA")
    if band in picture.getbands():
        mask = picture.getchannel(band)
        if band == "A":
            mask = ImageOps.invert(mask)
    else:
        mask = Image.new("L", (64, 64), 0)
    return NodeResult(([mask],))


async def image_invert(ctx: NodeRuntime, image: list[Image.Image]) -> NodeResult:
    return NodeResult(([invert(img) for img in image],))


async def image_scale(
    ctx: NodeRuntime, image: list[Image.Image], upscale_method: str, width: int, height: int, crop: str
) -> NodeResult:
    if width == 0 and height == 0:
        return NodeResult((image,))
    out = []
    for img in image:
        w, h = width, height
        if w == 0:
            w = max(1, round(img.width * h / img.height))
        elif h == 0:
            h = max(1, round(img.height * w / img.width))
        out.append(resize(img, w, h, upscale_method, crop))
    return NodeResult((out,))


async def image_scale_by(
    ctx: NodeRuntime, image: list[Image.Image], upscale_method: str, scale_by: float
) -> NodeResult:
    return NodeResult(
        (
            [
                resize(img, round(img.width * scale_by), round(img.height * scale_by), upscale_method)
                for img in image
            ],
        )
    )


def _pnginfo(prompt: Any, extra_pnginfo: Any) -> PngInfo:
    info = PngInfo()
    if prompt is not None:
        info.add_text("prompt", json.dumps(prompt))
    if isinstance(extra_pnginfo, dict):
        for key, value in extra_pnginfo.items():
            info.add_text(key, json.dumps(value))
    return info


def _save(
    images: list[Image.Image], prefix: str, folder: str, kind: str, compress: int, prompt: Any, extra: Any
) -> NodeResult:
    full_folder, stem, counter, subfolder = save_image_path(prefix, folder, images[0].width, images[0].height)
    results = []
    for batch_number, image in enumerate(images):
        name = f"{stem.replace('%batch_num%', str(batch_number))}_{counter:05}_.png"
        image.save(os.path.join(full_folder, name), pnginfo=_pnginfo(prompt, extra), compress_level=compress)
        results.append({"filename": name, "subfolder": subfolder, "type": kind})
        counter += 1
    return NodeResult((), {"images": results})


async def save_image(
    ctx: NodeRuntime,
    images: list[Image.Image],
    filename_prefix: str = "ComfyUI",
    prompt: Any = None,
    extra_pnginfo: Any = None,
) -> NodeResult:
    return _save(images, filename_prefix, ctx.storage.output_dir, "output", 4, prompt, extra_pnginfo)


async def preview_image(
    ctx: NodeRuntime, images: list[Image.Image], prompt: Any = None, extra_pnginfo: Any = None
) -> NodeResult:
    suffix = "".join(random.choice("abcdefghijklmnopqrstupvxyz") for _ in range(5))
    return _save(images, f"ComfyUI_temp_{suffix}", ctx.storage.temp_dir, "temp", 1, prompt, extra_pnginfo)


async def save_image_websocket(ctx: NodeRuntime, images: list[Image.Image]) -> NodeResult:
    for step, image in enumerate(images):
        await ctx.progress(step, len(images), ("PNG", image, None))
    return NodeResult()


async def get_image_size(
    ctx: NodeRuntime, image: list[Image.Image], unique_id: str | None = None
) -> NodeResult:
    width, height = image[0].size
    if unique_id:
        ctx.send_text(f"width: {width}, height: {height}\n batch size: {len(image)}")
    return NodeResult((width, height, len(image)))


async def upscale_model_loader(ctx: NodeRuntime, model_name: str) -> NodeResult:
    match = re.search(r"(\d+)x|x(\d+)", model_name)
    scale = int(next(g for g in match.groups() if g)) if match else 4
    return NodeResult(({"upscale_model": model_name, "scale": scale},))


async def image_upscale_with_model(
    ctx: NodeRuntime, upscale_model: dict[str, Any], image: list[Image.Image]
) -> NodeResult:
    scale = int(upscale_model.get("scale", 4))
    return NodeResult(
        ([img.resize((img.width * scale, img.height * scale), Image.Resampling.LANCZOS) for img in image],)
    )


IMAGE_NODES = [
    NodeDef(
        name="LoadImage",
        display_name="Load Image",
        category="image",
        output=("IMAGE", "MASK"),
        run=load_image,
        required={"image": _image_spec},
        validate_inputs=("image",),
        validate=_validate_image,
        is_changed=_image_hash,
    ),
    NodeDef(
        name="LoadImageMask",
        display_name="Load Image (as Mask)",
        category="mask",
        output=("MASK",),
        run=load_image_mask,
        required={"image": _image_spec, "channel": [["alpha", "red", "green", "blue"]]},
        validate_inputs=("image",),
        validate=_validate_image,
        is_changed=_image_hash,
    ),
    NodeDef(
        name="ImageInvert",
        display_name="Invert Image",
        category="image",
        output=("IMAGE",),
        run=image_invert,
        required={"image": ["IMAGE"]},
    ),
    NodeDef(
        name="ImageScale",
        display_name="Upscale Image",
        category="image/upscaling",
        output=("IMAGE",),
        run=image_scale,
        required={
            "image": ["IMAGE"],
            "upscale_method": [UPSCALE_METHODS],
            "width": ["INT", {"default": 512, "min": 0, "max": 16384, "step": 1}],
            "height": ["INT", {"default": 512, "min": 0, "max": 16384, "step": 1}],
            "crop": [CROP_MODES],
        },
    ),
    NodeDef(
        name="ImageScaleBy",
        display_name="Upscale Image By",
        category="image/upscaling",
        output=("IMAGE",),
        run=image_scale_by,
        required={
            "image": ["IMAGE"],
            "upscale_method": [UPSCALE_METHODS],
            "scale_by": ["FLOAT", {"default": 1.0, "min": 0.01, "max": 8.0, "step": 0.01}],
        },
    ),
    NodeDef(
        name="SaveImage",
        display_name="Save Image",
        category="image",
        output=(),
        run=save_image,
        required={
            "images": ["IMAGE", {"tooltip": "The images to save."}],
            "filename_prefix": [
                "STRING",
                {
                    "default": "ComfyUI",
                    "tooltip": "The prefix for the file to save. This may include formatting information "
                    "such as %date:yyyy-MM-dd% or %Empty Latent Image.width% to include values from nodes.",
                },
            ],
        },
        hidden=IMAGE_HIDDEN,
        output_node=True,
        description=SAVE_DESCRIPTION,
    ),
    NodeDef(
        name="PreviewImage",
        display_name="Preview Image",
        category="image",
        output=(),
        run=preview_image,
        required={"images": ["IMAGE"]},
        hidden=IMAGE_HIDDEN,
        output_node=True,
        description=SAVE_DESCRIPTION,
    ),
    NodeDef(
        name="SaveImageWebsocket",
        display_name="SaveImageWebsocket",
        category="api/image",
        output=(),
        run=save_image_websocket,
        required={"images": ["IMAGE"]},
        output_node=True,
        python_module="custom_nodes.websocket_image_save",
        is_changed=lambda env, inputs: Fresh(),
    ),
    NodeDef(
        name="GetImageSize",
        display_name="Get Image Size",
        category="image",
        output=("INT", "INT", "INT"),
        output_name=("width", "height", "batch_size"),
        run=get_image_size,
        required={"image": ["IMAGE"]},
        hidden={"unique_id": "UNIQUE_ID"},
        description="Returns width and height of the image, and passes it through unchanged.",
        python_module="comfy_extras.nodes_images",
    ),
    NodeDef(
        name="UpscaleModelLoader",
        display_name="Load Upscale Model",
        category="loaders",
        output=("UPSCALE_MODEL",),
        run=upscale_model_loader,
        required={"model_name": lambda env: [list(env.settings.upscale_models)]},
        python_module="comfy_extras.nodes_upscale_model",
    ),
    NodeDef(
        name="ImageUpscaleWithModel",
        display_name="Upscale Image (using Model)",
        category="image/upscaling",
        output=("IMAGE",),
        run=image_upscale_with_model,
        required={"upscale_model": ["UPSCALE_MODEL"], "image": ["IMAGE"]},
        python_module="comfy_extras.nodes_upscale_model",
    ),
]
