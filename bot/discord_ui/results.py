"""A job's results as Discord messages: files fitted to the channel, texts, and the layout they go in.

``prepare_results`` reads a job's outputs from the spool, fits every file under the destination's
per-file limit (``MediaFitter``: images re-encoded, videos and animations re-encoded with PyAV, or a
still frame and a note), and gathers the text outputs (shown in the message, and attached in full as
a ``.txt`` when long). ``result_message`` lays them out:

* one picture, clip or sound (or only text): the classic result, an embed above the files, with
  Re-roll / Edit / Delete and the template's follow-ups (which act on the first image);
* a batch (two or more pictures or clips): one components-v2 message, a media gallery with the job's
  summary and texts, then Re-roll / Edit / Delete, each follow-up for image N ("Upscale 2") and Vary N.

Files beyond what one message may carry (10 files, 25 MiB) go to follow-up messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import discord
from discord import ui

from bot.discord_ui.components import (
    DeleteButton,
    EditButton,
    PickButton,
    RerollButton,
    VaryButton,
    result_view,
)
from bot.discord_ui.render import result_embed, result_markdown
from bot.discord_ui.status import Payload
from bot.jobmodel.model import Job, OutputRef
from bot.media import OutputKind
from bot.media.fitter import MediaFitter
from bot.storage import Spool
from bot.templates import Template, VaryMode, vary_mode

FILES_PER_MESSAGE: Final = 10
REQUEST_LIMIT: Final = 24 * 1024 * 1024  # Discord's 25 MiB per request, with room for the JSON part
SHOWN_TEXT: Final = 1000
"""Characters of text outputs shown in the message; longer texts are attached in full as well."""
MAX_COMPONENTS: Final = 40
GALLERY_ITEMS: Final = 10
SPOILER: Final = "SPOILER_"


@dataclass(frozen=True, slots=True)
class ResultFile:
    """One file of a result message. ``output`` is the job output it shows (None: the texts' file)."""

    name: str
    data: bytes = field(repr=False)
    kind: OutputKind
    mime: str
    output: int | None = None
    spoiler: bool = False

    @property
    def upload_name(self) -> str:
        """The name it is uploaded under (Discord blurs ``SPOILER_`` files)."""
        return self.name if not self.spoiler or self.name.startswith(SPOILER) else SPOILER + self.name

    def as_spoiler(self) -> ResultFile:
        return replace(self, spoiler=True)


@dataclass(frozen=True, slots=True)
class PreparedResult:
    """What a job delivers, ready for one destination."""

    files: list[ResultFile]
    texts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def visual(self) -> list[ResultFile]:
        return [f for f in self.files if f.kind.visual]

    def with_files(self, files: list[ResultFile]) -> PreparedResult:
        return replace(self, files=files)


def text_block(texts: Sequence[str], limit: int = SHOWN_TEXT) -> tuple[str, bool]:
    """The texts as shown in a message (within ``limit`` characters), and whether any was cut."""
    joined = "\n\n".join(t.strip() for t in texts if t.strip())
    if len(joined) <= limit:
        return joined, False
    return joined[: limit - 1].rstrip() + "…", True


async def prepare_results(
    job: Job, outputs: Sequence[OutputRef], *, spool: Spool, fitter: MediaFitter, limit: int
) -> PreparedResult:
    """Read, fit and gather a job's outputs for a destination with a per-file ``limit`` (bytes)."""
    files: list[ResultFile] = []
    texts: list[str] = []
    notes: list[str] = []
    for output in outputs:
        data = await spool.read(output.path)
        if output.kind is OutputKind.TEXT:
            texts.append(data.decode("utf-8", errors="replace"))
            continue
        name = f"{job.template}_{job.id}_{output.index + 1}{output.path.suffix}"
        fitted = await fitter.fit(data, name, output.kind, output.mime, limit)
        if fitted.note:
            notes.append(fitted.note)
        if not fitted.dropped:
            files.append(ResultFile(fitted.filename, fitted.data, fitted.kind, fitted.mime, output.index))
    _, cut = text_block(texts)
    if cut:
        full = "\n\n".join(texts).encode()
        fitted = await fitter.fit(
            full, f"{job.template}_{job.id}_text.txt", OutputKind.TEXT, "text/plain", limit
        )
        if fitted.note:
            notes.append(fitted.note)
        files.append(ResultFile(fitted.filename, fitted.data, OutputKind.TEXT, "text/plain"))
    return PreparedResult(files, texts, notes)


def split_files(files: Sequence[ResultFile]) -> list[list[ResultFile]]:
    """Messages of at most ten files and under the per-request size limit, in order."""
    chunks: list[list[ResultFile]] = []
    current: list[ResultFile] = []
    size = 0
    for item in files:
        if current and (len(current) >= FILES_PER_MESSAGE or size + len(item.data) > REQUEST_LIMIT):
            chunks.append(current)
            current, size = [], 0
        current.append(item)
        size += len(item.data)
    if current:
        chunks.append(current)
    return chunks


@dataclass(frozen=True)
class ResultMessage:
    """The job's result message, and the files left for follow-up messages."""

    payload: Payload
    overflow: list[list[ResultFile]]
    gallery: bool


@dataclass(frozen=True, slots=True)
class ResultButtons:
    """What the buttons under a result can do: the template's follow-up labels, and whether Vary works."""

    actions: Sequence[str] = ()
    vary: bool = False


def result_buttons(template: Template | None) -> ResultButtons:
    """The buttons a template's results get (none beyond Re-roll/Edit/Delete for a removed template)."""
    if template is None:
        return ResultButtons()
    return ResultButtons(tuple(a.label for a in template.actions), vary_mode(template) is not VaryMode.OFF)


def result_message(
    job: Job, prepared: PreparedResult, buttons: ResultButtons, *, backend_name: str | None = None
) -> ResultMessage:
    """The result laid out: a gallery for a batch, the classic embed otherwise."""
    ordered = [*prepared.visual, *(f for f in prepared.files if not f.kind.visual)]
    chunks = split_files(ordered) or [[]]
    first, overflow = chunks[0], chunks[1:]
    if len(prepared.visual) >= 2:
        view = _gallery(job, prepared, first, buttons, backend_name)
        payload = Payload(files=[(f.upload_name, f.data) for f in first], view=view)
        return ResultMessage(payload, overflow, True)
    embed = result_embed(job, notes=prepared.notes, images=len(prepared.visual), backend_name=backend_name)
    shown, _ = text_block(prepared.texts)
    if shown:
        embed.add_field(name="Output", value=_fenced(shown, 1000), inline=False)
    # Follow-ups take an image: without one (a clip, a sound, a text) they are not offered.
    has_image = any(f.kind is OutputKind.IMAGE for f in prepared.files)
    actions = list(buttons.actions) if has_image else []
    payload = Payload(
        embed=embed, files=[(f.upload_name, f.data) for f in first], view=result_view(job.id, actions)
    )
    return ResultMessage(payload, overflow, False)


def _fenced(text: str, limit: int) -> str:
    """Text in a code block (kept verbatim: no markdown, no mentions), within ``limit`` characters."""
    body = text.replace("```", "`\u200b``")
    room = limit - 8
    if len(body) > room:
        body = body[: room - 1] + "…"
    return f"```\n{body}\n```"


def _gallery(
    job: Job,
    prepared: PreparedResult,
    first: list[ResultFile],
    buttons: ResultButtons,
    backend_name: str | None,
) -> ui.LayoutView:
    view: ui.LayoutView = ui.LayoutView(timeout=None)
    container: ui.Container[ui.LayoutView] = ui.Container(accent_colour=discord.Colour.green())
    visual = [f for f in first if f.kind.visual][:GALLERY_ITEMS]
    summary = result_markdown(
        job, notes=prepared.notes, images=len(prepared.visual), backend_name=backend_name
    )
    container.add_item(ui.TextDisplay(summary))
    gallery: ui.MediaGallery[ui.LayoutView] = ui.MediaGallery()
    for number, item in enumerate(visual, start=1):
        gallery.add_item(
            media=f"attachment://{item.upload_name}",
            description=f"{item.kind.value.capitalize()} {number}",
            spoiler=item.spoiler,
        )
    container.add_item(gallery)
    shown, _ = text_block(prepared.texts)
    if shown:
        container.add_item(ui.TextDisplay("**Output**\n" + _fenced(shown, SHOWN_TEXT + 16)))
    for item in first:
        if not item.kind.visual:
            container.add_item(ui.File(f"attachment://{item.upload_name}", spoiler=item.spoiler))
    view.add_item(container)
    main: ui.ActionRow[ui.LayoutView] = ui.ActionRow()
    for first_row_button in (RerollButton(job.id), EditButton(job.id), DeleteButton(job.id)):
        main.add_item(first_row_button)
    view.add_item(main)
    # Buttons act on pictures only (a follow-up takes an image); each is numbered by its place in the
    # gallery, so "Upscale 3" is the third item even when a clip comes before it.
    pictures = [
        (n, f.output)
        for n, f in enumerate(prepared.visual, start=1)
        if f.kind is OutputKind.IMAGE and f.output is not None
    ]
    rows: list[list[ui.Item[Any]]] = []
    for action, label in enumerate(buttons.actions):
        rows += _rows([PickButton(job.id, action, output, f"{label} {n}") for n, output in pictures])
    if buttons.vary and len(pictures) >= 2:
        rows += _rows([VaryButton(job.id, output, n) for n, output in pictures])
    for row in rows:
        if view.total_children_count + 1 + len(row) > MAX_COMPONENTS:
            break  # Discord's 40 components: the rows that do not fit are left out
        action_row: ui.ActionRow[ui.LayoutView] = ui.ActionRow()
        for button in row:
            action_row.add_item(button)
        view.add_item(action_row)
    return view


def _rows(buttons: Sequence[ui.Item[Any]]) -> list[list[ui.Item[Any]]]:
    return [list(buttons[i : i + 5]) for i in range(0, len(buttons), 5)]
