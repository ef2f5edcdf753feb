"""Attachments from slash commands: checked before download, decoded safely, stored as clean PNG."""

from __future__ import annotations

import asyncio

import discord

from bot.errors import InvalidInput
from bot.imaging import DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, MAX_IMAGE_FILE_BYTES, normalise_image
from bot.jobs.planning import Attachment

MAX_ATTACHMENT_BYTES = MAX_IMAGE_FILE_BYTES
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp")


def _side_problem(what: str, width: int | None, height: int | None, max_side: int) -> str | None:
    """Discord reports an image's size: a strip too long for ``max_side`` is refused undownloaded."""
    if width is None or height is None or max(width, height) <= max_side:
        return None
    return (
        f"The {what} is {width}x{height} pixels; each side may be at most {max_side:,} pixels. "
        "Crop or shrink it and send it again."
    )


async def read_attachment(
    param: str,
    attachment: discord.Attachment,
    *,
    max_bytes: int = MAX_ATTACHMENT_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_side: int = DEFAULT_MAX_SIDE,
) -> Attachment:
    """Download and normalise one attachment; raise InvalidInput with a message naming ``param``."""
    what = f"`{param}` attachment ({attachment.filename})"
    content_type = (attachment.content_type or "").split(";")[0].strip().lower()
    if content_type and content_type not in IMAGE_TYPES:
        raise InvalidInput(f"The {what} is not an image ({content_type}); attach a PNG, JPEG or WebP.")
    if attachment.size > max_bytes:
        raise InvalidInput(
            f"The {what} is {attachment.size / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB."
        )
    if problem := _side_problem(what, attachment.width, attachment.height, max_side):
        raise InvalidInput(problem)
    try:
        data = await attachment.read()
    except (discord.NotFound, discord.Forbidden):
        raise InvalidInput(f"The {what} link has expired; attach the file again.") from None
    except discord.HTTPException:
        raise InvalidInput(f"I could not download the {what}; try again.") from None
    image = await asyncio.to_thread(
        normalise_image, data, what=what, max_pixels=max_pixels, max_side=max_side
    )
    stem = attachment.filename.rsplit(".", 1)[0][:60] or "image"
    return Attachment(param, f"{stem}.png", image.data)
