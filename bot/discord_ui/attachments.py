"""Attachments from slash commands: checked before download, decoded safely, stored as clean PNG."""

from __future__ import annotations

import asyncio

import discord

from bot.errors import InvalidInput
from bot.imaging import DEFAULT_MAX_PIXELS, normalise_image
from bot.jobs.planning import Attachment

MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp")


async def read_attachment(
    param: str,
    attachment: discord.Attachment,
    *,
    max_bytes: int = MAX_ATTACHMENT_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
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
    try:
        data = await attachment.read()
    except (discord.NotFound, discord.Forbidden):
        raise InvalidInput(f"The {what} link has expired; attach the file again.") from None
    except discord.HTTPException:
        raise InvalidInput(f"I could not download the {what}; try again.") from None
    image = await asyncio.to_thread(normalise_image, data, what=what, max_pixels=max_pixels)
    stem = attachment.filename.rsplit(".", 1)[0][:60] or "image"
    return Attachment(param, f"{stem}.png", image.data)
