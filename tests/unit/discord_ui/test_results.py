"""Result layouts: which results become a gallery, and that every layout keeps to Discord's rules
(checked with the fake Discord's validators of the documented limits)."""

from __future__ import annotations

import io
from typing import Any

import discord
from PIL import Image

from bot.discord_ui.results import (
    FILES_PER_MESSAGE,
    PreparedResult,
    ResultButtons,
    ResultFile,
    result_message,
    split_files,
    text_block,
)
from bot.jobmodel.model import new_job
from bot.media import OutputKind
from tests.fakes.discord.errors import FieldErrors
from tests.fakes.discord.limits import validate_message_body

V2 = 1 << 15


def _job() -> Any:
    return new_job(
        job_id="ABCD1234",
        guild_id=1,
        channel_id=2,
        user_id=3,
        template="imagine",
        params={"prompt": "a duck " * 300, "seed": 5, "steps": 20, "batch": 4},
        now=0.0,
    )


def _png(index: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (index * 20 % 256, 0, 0)).save(out, format="PNG")
    return out.getvalue()


def _images(count: int) -> list[ResultFile]:
    return [
        ResultFile(f"imagine_ABCD1234_{i + 1}.png", _png(i), OutputKind.IMAGE, "image/png", i)
        for i in range(count)
    ]


def _custom_ids(view: Any) -> list[str]:
    found: list[str] = []

    def walk(components: list[dict[str, Any]]) -> None:
        for component in components:
            if "custom_id" in component:
                found.append(component["custom_id"])
            walk(component.get("components") or [])

    walk(view.to_components())
    return found


def _errors(payload: Any) -> list[tuple[str, str]]:
    view = payload.view
    body: dict[str, Any] = {"components": view.to_components() if view is not None else []}
    if isinstance(view, discord.ui.LayoutView):
        body["flags"] = V2
    else:
        body["embeds"] = [e.to_dict() for e in payload.embeds]
    body["attachments"] = [{"id": i, "filename": name} for i, (name, _) in enumerate(payload.files)]
    errors = FieldErrors()
    validate_message_body(body, errors)
    return [(path, code) for path, code, _ in errors.flat]


def test_one_image_is_the_classic_result_and_a_batch_a_gallery() -> None:
    single = result_message(_job(), PreparedResult(_images(1)), ResultButtons(("Upscale",), True))
    assert not single.gallery
    assert single.payload.embeds
    batch = result_message(_job(), PreparedResult(_images(4)), ResultButtons(("Upscale",), True))
    assert batch.gallery
    assert isinstance(batch.payload.view, discord.ui.LayoutView)
    assert batch.payload.embeds == []
    assert _errors(single.payload) == []
    assert _errors(batch.payload) == []


def test_the_largest_batch_with_many_follow_ups_stays_within_forty_components() -> None:
    buttons = ResultButtons(("Upscale", "Sharpen", "Restyle", "Outpaint", "Invert"), True)
    message = result_message(_job(), PreparedResult(_images(12)), buttons)
    view = message.payload.view
    assert isinstance(view, discord.ui.LayoutView)
    assert view.total_children_count <= 40
    assert _errors(message.payload) == []
    ids = _custom_ids(view)
    assert ids[:3] == ["cc:reroll:ABCD1234", "cc:edit:ABCD1234", "cc:delete:ABCD1234"]
    assert len(set(ids)) == len(ids)
    assert len(message.payload.files) == FILES_PER_MESSAGE
    assert [len(part) for part in message.overflow] == [2]


def test_vary_only_where_the_template_can_and_only_for_pictures() -> None:
    clips = [ResultFile(f"c{i}.mp4", b"\x00" * 10, OutputKind.VIDEO, "video/mp4", i) for i in range(3)]
    message = result_message(_job(), PreparedResult(clips), ResultButtons(("Upscale",), True))
    ids = _custom_ids(message.payload.view)
    assert not [i for i in ids if i.startswith(("cc:vary:", "cc:pick:"))], "no picture to pick"
    no_vary = result_message(_job(), PreparedResult(_images(3)), ResultButtons((), False))
    ids = [
        c.custom_id or "" for c in no_vary.payload.view.walk_children() if isinstance(c, discord.ui.Button)
    ]  # type: ignore[union-attr]
    assert not [i for i in ids if i.startswith("cc:vary:")]


def test_texts_and_notes_and_spoilers_in_a_gallery_keep_to_the_text_limit() -> None:
    images = _images(3)
    images[1] = images[1].as_spoiler()
    prepared = PreparedResult(
        [*images, ResultFile("t.txt", b"x" * 5000, OutputKind.TEXT, "text/plain")],
        texts=["y" * 5000, "z" * 3000],
        notes=["video re-encoded (900 kbit/s) to fit the 10.0 MB upload limit"] * 3,
    )
    message = result_message(_job(), prepared, ResultButtons(("Upscale",), True))
    view = message.payload.view
    assert isinstance(view, discord.ui.LayoutView)
    assert view.content_length() <= 4000
    assert _errors(message.payload) == []
    names = [name for name, _ in message.payload.files]
    assert names[1].startswith("SPOILER_")
    assert not names[0].startswith("SPOILER_")
    components = view.to_components()
    gallery = next(c for c in components[0]["components"] if c["type"] == 12)
    assert [item["spoiler"] for item in gallery["items"]] == [False, True, False]
    assert any(c["type"] == 13 for c in components[0]["components"]), "the full text as a file component"


def test_splitting_keeps_to_ten_files_and_the_request_size() -> None:
    big = [
        ResultFile(f"v{i}.mp4", b"\x00" * (9 * 1024 * 1024), OutputKind.VIDEO, "video/mp4", i)
        for i in range(4)
    ]
    assert [len(chunk) for chunk in split_files(big)] == [2, 2]
    assert [len(chunk) for chunk in split_files(_images(23))] == [10, 10, 3]


def test_text_block_cuts_long_texts() -> None:
    assert text_block(["short"]) == ("short", False)
    shown, cut = text_block(["a" * 2000])
    assert cut
    assert len(shown) == 1000
    assert shown.endswith("…")


def test_follow_ups_are_offered_only_under_an_image() -> None:
    clip = [ResultFile("c.mp4", b"\x00" * 10, OutputKind.VIDEO, "video/mp4", 0)]
    message = result_message(_job(), PreparedResult(clip), ResultButtons(("Upscale",), True))
    assert not message.gallery
    assert [i for i in _custom_ids(message.payload.view) if i.startswith("cc:act:")] == []
    image = result_message(_job(), PreparedResult(_images(1)), ResultButtons(("Upscale",), True))
    assert "cc:act:ABCD1234:0" in _custom_ids(image.payload.view)
