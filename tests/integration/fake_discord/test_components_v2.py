"""Components v2 (IS_COMPONENTS_V2) through the real discord.py: layout views with media galleries,
files and text; what Discord answers for them; the documented rules it enforces."""

from __future__ import annotations

import io
from typing import Any

import discord
import pytest
from discord import ui
from PIL import Image

from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.errors import FieldErrors
from tests.fakes.discord.limits import validate_message_body

from .sample_bot import SampleBot
from .test_messages import started

V2 = 1 << 15


def png(colour: tuple[int, int, int], size: tuple[int, int] = (24, 16)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def gallery_view(names: list[str], *, spoiler: int | None = None, text: str = "## Results") -> ui.LayoutView:
    view = ui.LayoutView(timeout=None)
    container = ui.Container(accent_colour=discord.Colour.green())
    container.add_item(ui.TextDisplay(text))
    gallery = ui.MediaGallery()
    for i, name in enumerate(names):
        gallery.add_item(media=f"attachment://{name}", description=f"image {i + 1}", spoiler=i == spoiler)
    container.add_item(gallery)
    container.add_item(ui.File("attachment://notes.txt"))
    view.add_item(container)
    row: ui.ActionRow[ui.LayoutView] = ui.ActionRow()
    row.add_item(ui.Button(label="Vary 1", custom_id="v2:vary:1"))
    view.add_item(row)
    return view


def files(names: list[str]) -> list[discord.File]:
    out = [discord.File(io.BytesIO(png((40 * i, 90, 200))), filename=n) for i, n in enumerate(names)]
    return [*out, discord.File(io.BytesIO(b"some long text"), filename="notes.txt")]


async def test_a_layout_view_with_a_gallery_is_sent_and_answered_like_discord(
    fake_discord: FakeDiscord,
) -> None:
    bot, channel = await started(fake_discord)
    names = ["a.png", "b.png", "c.png"]
    message = await channel.send(view=gallery_view(names, spoiler=1), files=files(names))

    [post] = fake_discord.calls("POST", f"/channels/{channel.id}/messages")
    assert post.json["flags"] & V2
    stored = fake_discord.message(message.id)
    assert stored.flags & V2
    assert stored.content == ""
    assert stored.embeds == []
    assert stored.custom_ids() == ["v2:vary:1"]
    # discord.py parsed Discord's answer back into components: the gallery resolved to the uploads.
    assert message.flags.components_v2
    [container, _row] = message.components
    assert isinstance(container, discord.Container)
    gallery = next(c for c in container.children if isinstance(c, discord.MediaGalleryComponent))
    by_id = {str(a.id): a for a in message.attachments}
    assert [by_id[str(item.media.attachment_id)].filename for item in gallery.items] == names
    assert [item.spoiler for item in gallery.items] == [False, True, False]
    assert all(item.media.url.startswith(fake_discord.base_url) for item in gallery.items)
    assert gallery.items[0].media.width == 24
    file_component = next(c for c in container.children if isinstance(c, discord.FileComponent))
    assert (file_component.name, file_component.size) == ("notes.txt", len(b"some long text"))
    assert fake_discord.violations == []
    await bot.close()


async def test_a_classic_message_becomes_v2_only_when_its_content_and_embeds_are_reset(
    fake_discord: FakeDiscord,
) -> None:
    _, channel = await started(fake_discord)
    message = await channel.send(embed=discord.Embed(title="Running"))
    names = ["a.png", "b.png"]
    # discord.py's edit sends `content: null, embeds: []` with the layout view: accepted.
    edited = await message.edit(content=None, embeds=[], view=gallery_view(names), attachments=files(names))
    assert edited.flags.components_v2
    stored = fake_discord.message(message.id)
    assert stored.embeds == []
    assert stored.flags & V2

    # The flag cannot be taken off again, and legacy fields stay refused.
    plain = ui.View(timeout=None)
    plain.add_item(ui.Button(label="ok", custom_id="plain"))
    again = await edited.edit(view=plain)
    assert again.flags.components_v2
    with pytest.raises(discord.HTTPException) as refused:
        await edited.edit(content="words are not allowed on a v2 message")
    assert refused.value.status == 400
    taken = fake_discord.take_violations()
    assert [v.rule for v in taken] == ["docs: MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2"]


async def test_setting_the_flag_while_keeping_an_embed_is_refused(fake_discord: FakeDiscord) -> None:
    bot, channel = await started(fake_discord)
    message = await channel.send(embed=discord.Embed(title="Running"))
    route = discord.http.Route("PATCH", "/channels/{cid}/messages/{mid}", cid=channel.id, mid=message.id)
    components = gallery_view([]).to_components()
    components[0]["components"] = components[0]["components"][:1]  # no empty gallery
    with pytest.raises(discord.HTTPException) as refused:
        await bot.http.request(route, json={"flags": V2, "components": components})
    assert refused.value.status == 400
    assert "embeds" in refused.value.text
    [violation] = fake_discord.take_violations()
    assert violation.rule == "docs: MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2"


def _errors(body: dict[str, Any]) -> list[tuple[str, str]]:
    errors = FieldErrors()
    validate_message_body(body, errors)
    return [(path, code) for path, code, _ in errors.flat]


def _text(content: str) -> dict[str, Any]:
    return {"type": 10, "content": content}


def test_the_documented_v2_rules() -> None:
    ok = {"flags": V2, "components": [{"type": 17, "components": [_text("hi")]}]}
    assert _errors(ok) == []
    # Layout components need the flag.
    assert _errors({"components": [_text("hi")]}) == [("components.0.type", "UNION_TYPE_CHOICES")]
    # A thumbnail is only an accessory; a container holds no container.
    assert _errors({"flags": V2, "components": [{"type": 11, "media": {"url": "https://x/y.png"}}]}) == [
        ("components.0.type", "UNION_TYPE_CHOICES")
    ]
    nested = {"type": 17, "components": [{"type": 17, "components": [_text("x")]}]}
    assert _errors({"flags": V2, "components": [nested]}) == [
        ("components.0.components.0.type", "UNION_TYPE_CHOICES")
    ]
    # 40 components in all, 4,000 characters of text in all.
    many = [_text(str(i)) for i in range(41)]
    assert _errors({"flags": V2, "components": many}) == [
        ("components", "COMPONENT_MAX_TOTAL_COMPONENTS_EXCEEDED")
    ]
    long = [_text("a" * 2500), _text("b" * 1501)]
    assert _errors({"flags": V2, "components": long}) == [
        ("components", "COMPONENT_MAX_TEXT_LENGTH_EXCEEDED")
    ]
    # A file component shows an attachment, never a link; rows inside v2 keep their width.
    link = {"type": 13, "file": {"url": "https://example.com/a.zip"}}
    assert _errors({"flags": V2, "components": [link]}) == [
        ("components.0.file.url", "COMPONENT_FILE_URL_NOT_ATTACHMENT")
    ]
    wide = {
        "type": 1,
        "components": [{"type": 2, "style": 1, "label": "b", "custom_id": f"c{i}"} for i in range(6)],
    }
    assert _errors({"flags": V2, "components": [{"type": 17, "components": [wide]}]}) == [
        ("components.0.components.0.components", "COMPONENT_LAYOUT_WIDTH_EXCEEDED")
    ]
    # Content or embeds beside the flag.
    assert _errors({**ok, "content": "x"}) == [
        ("content", "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2")
    ]


async def test_a_gallery_naming_a_file_the_message_lacks_is_refused(fake_discord: FakeDiscord) -> None:
    _, channel = await started(fake_discord)
    with pytest.raises(discord.HTTPException) as refused:
        await channel.send(view=gallery_view(["a.png", "missing.png"]), files=files(["a.png"]))
    assert refused.value.status == 400
    [violation] = fake_discord.take_violations()
    assert violation.rule == "docs: ATTACHMENT_REFERENCE_NOT_FOUND"


async def test_a_button_in_a_v2_message_reaches_its_dynamic_item(fake_discord: FakeDiscord) -> None:
    clicked: list[tuple[str, bool]] = []

    class Vary(ui.DynamicItem[ui.Button[Any]], template=r"v2:vary:(?P<n>[0-9]+)"):
        def __init__(self, n: int) -> None:
            super().__init__(ui.Button(label=f"Vary {n}", custom_id=f"v2:vary:{n}"))
            self.n = n

        @classmethod
        async def from_custom_id(
            cls, interaction: discord.Interaction[Any], item: Any, match: Any, /
        ) -> Vary:
            return cls(int(match["n"]))

        async def callback(self, interaction: discord.Interaction[Any]) -> None:
            assert interaction.message is not None
            clicked.append((interaction.data["custom_id"], interaction.message.flags.components_v2))  # type: ignore[index]
            await interaction.response.defer()

    bot = SampleBot(fake_discord)
    bot.add_dynamic_items(Vary)
    from tests.fakes.discord.client import start_client

    await start_client(bot, fake_discord)
    channel = bot.get_channel(int(fake_discord.channel.id))
    assert isinstance(channel, discord.TextChannel)
    names = ["a.png", "b.png"]
    message = await channel.send(view=gallery_view(names), files=files(names))
    record = await fake_discord.click("v2:vary:1", message.id)
    await record
    assert clicked == [("v2:vary:1", True)]
    assert record.response_type == 6
