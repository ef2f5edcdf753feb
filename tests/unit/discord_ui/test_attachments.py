"""Attachments are judged on what Discord says about them before anything is downloaded."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import discord
import pytest

from bot.discord_ui.attachments import read_attachment
from bot.errors import InvalidInput


def _attachment(**fields: Any) -> discord.Attachment:
    data = {
        "id": "1",
        "filename": "strip.png",
        "size": 1000,
        "url": "http://127.0.0.1:9/strip.png",  # never fetched: nothing listens there
        "proxy_url": "http://127.0.0.1:9/strip.png",
        "content_type": "image/png",
        **fields,
    }
    # No HTTP client: a download would fail loudly, so each refusal below happens before one.
    return discord.Attachment(data=data, state=SimpleNamespace(http=None))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"width": 20000, "height": 8},
            "The `image` attachment (strip.png) is 20000x8 pixels; each side may be at most 4,096 pixels. "
            "Crop or shrink it and send it again.",
        ),
        ({"size": 26 * 1024 * 1024}, "The `image` attachment (strip.png) is 26.0 MiB; the limit is 25 MiB."),
        (
            {"content_type": "application/pdf"},
            "The `image` attachment (strip.png) is not an image (application/pdf); "
            "attach a PNG, JPEG or WebP.",
        ),
    ],
)
async def test_refused_without_downloading(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        await read_attachment("image", _attachment(**fields))
    assert info.value.user_message == message


async def test_the_side_limit_follows_the_setting() -> None:
    with pytest.raises(InvalidInput, match="each side may be at most 1,024 pixels"):
        await read_attachment("image", _attachment(width=2000, height=2000), max_side=1024)


async def test_a_recovered_command_checks_the_size_again_before_downloading() -> None:
    from bot.discord_ui.intake import _download
    from bot.storage import IntakeAttachment

    big = IntakeAttachment("image", "http://127.0.0.1:9/a.png", "a.png", 30 * 1024 * 1024, "image/png")
    with pytest.raises(InvalidInput) as info:
        await _download(None, big, 4096)  # type: ignore[arg-type]  # no client: nothing is fetched
    assert info.value.user_message == "The `image` attachment (a.png) is 30.0 MiB; the limit is 25 MiB."
