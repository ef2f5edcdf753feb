"""What Discord sends back for the components and embeds a bot wrote (its request shapes differ).

* Components get ``id``s: Discord numbers every component of a message depth first, from 1, where the
  bot did not choose one (components/reference "Anatomy of a Component"); absent and ``null`` fields are
  left out, and a unicode emoji comes back as ``{"name": ...}`` (only custom emoji have an ``id``).
* Embeds come back with ``type: "rich"``, every field's ``inline``, and ``attachment://name`` image URLs
  resolved to the message's attachment (``url`` and ``proxy_url``), as resources/message describes.
* Components v2 come back complete (components/reference, "response" structures): a container's
  ``accent_color`` and ``spoiler``, a gallery item's ``description`` and ``spoiler``, a separator's
  ``divider`` and ``spacing``, a file's ``name``, ``size`` and ``spoiler``; every unfurled media item
  (``media``, ``file``) resolved to its attachment (``url``, ``proxy_url``, size, type, ``attachment_id``).
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

ATTACHMENT_SCHEME = "attachment://"
_NESTED = ("components", "items")
_SINGLE = ("component", "accessory")
TEXT_INPUT = 4


class _Attachment(Protocol):
    filename: str

    def payload(self, cdn_base: str) -> dict[str, Any]: ...


CONTAINER, SECTION, TEXT_DISPLAY, THUMBNAIL, MEDIA_GALLERY, FILE, SEPARATOR = 17, 9, 10, 11, 12, 13, 14
_DEFAULTS: dict[int, dict[str, Any]] = {
    CONTAINER: {"accent_color": None, "spoiler": False},
    THUMBNAIL: {"description": None, "spoiler": False},
    FILE: {"spoiler": False},
    SEPARATOR: {"divider": True, "spacing": 1},
}


def render_components(
    components: Sequence[dict[str, Any]], attachments: Sequence[_Attachment] = (), cdn_base: str = ""
) -> list[dict[str, Any]]:
    taken = {c["id"] for c in _walk(components) if isinstance(c.get("id"), int)}
    free = (i for i in itertools.count(1) if i not in taken)
    media = _MediaResolver(attachments, cdn_base)
    return [_component(c, free, media) for c in components]


class _MediaResolver:
    """Unfurled media items as Discord answers them: ``attachment://name`` becomes the attachment."""

    def __init__(self, attachments: Sequence[_Attachment], cdn_base: str) -> None:
        self._by_name = {a.filename: a for a in attachments}
        self._cdn_base = cdn_base

    def attachment(self, url: object) -> _Attachment | None:
        if isinstance(url, str) and url.startswith(ATTACHMENT_SCHEME):
            return self._by_name.get(url[len(ATTACHMENT_SCHEME) :])
        return None

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        url = item.get("url", "")
        att = self.attachment(url)
        if att is None:
            return {"id": str(zlib.crc32(str(url).encode())), "url": url, "proxy_url": url}
        resolved = att.payload(self._cdn_base)
        out = {"id": resolved["id"], "url": resolved["url"], "proxy_url": resolved["proxy_url"]}
        out.update({k: resolved[k] for k in ("width", "height", "content_type") if k in resolved})
        out["attachment_id"] = resolved["id"]
        return out


def _walk(components: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for comp in components:
        yield comp
        for key in _NESTED:
            yield from _walk(comp.get(key) or [])
        for key in _SINGLE:
            if isinstance(comp.get(key), dict):
                yield from _walk([comp[key]])


def _component(comp: dict[str, Any], free: Iterator[int], media: _MediaResolver) -> dict[str, Any]:
    kind = comp["type"]
    out: dict[str, Any] = {"type": kind, "id": comp["id"] if comp.get("id") is not None else next(free)}
    out.update(_DEFAULTS.get(kind, {}))
    for key, value in comp.items():
        if key in ("type", "id") or (key == "required" and kind != TEXT_INPUT):
            continue  # ``required`` is a modal-only field discord.py also puts on message selects
        if value is None:
            continue
        if key == "emoji":
            out[key] = _emoji(value)
        elif key == "components" and kind in (1, 9, 17):
            out[key] = [_component(c, free, media) for c in value]
        elif key in _SINGLE and isinstance(value, dict):
            out[key] = _component(value, free, media)
        elif key == "items" and kind == MEDIA_GALLERY:
            out[key] = [
                {
                    "media": media(item["media"]),
                    "description": item.get("description"),
                    "spoiler": bool(item.get("spoiler")),
                }
                for item in value
            ]
        elif key in ("media", "file") and isinstance(value, dict):
            out[key] = media(value)
        else:
            out[key] = value
    if kind == FILE:
        att = media.attachment((comp.get("file") or {}).get("url"))
        out["name"] = att.filename if att is not None else None
        out["size"] = getattr(att, "size", None) if att is not None else None
    return out


def _emoji(emoji: dict[str, Any]) -> dict[str, Any]:
    if emoji.get("id") is None:
        return {"name": emoji.get("name")}
    return {"id": str(emoji["id"]), "name": emoji.get("name"), "animated": bool(emoji.get("animated"))}


def render_embeds(
    embeds: Sequence[dict[str, Any]], attachments: Sequence[_Attachment], cdn_base: str
) -> list[dict[str, Any]]:
    by_name = {a.filename: a for a in attachments}

    def media(value: dict[str, Any], url_key: str, proxy_key: str) -> dict[str, Any]:
        out = {k: v for k, v in value.items() if v is not None}
        url = out.get(url_key)
        if isinstance(url, str) and url.startswith(ATTACHMENT_SCHEME):
            att = by_name.get(url[len(ATTACHMENT_SCHEME) :])
            if att is not None:
                resolved = att.payload(cdn_base)
                out[url_key], out[proxy_key] = resolved["url"], resolved["proxy_url"]
                for extra in ("width", "height", "content_type"):
                    if extra in resolved and url_key == "url":
                        out[extra] = resolved[extra]
        elif isinstance(url, str):
            out.setdefault(proxy_key, url)
        return out

    rendered = []
    for embed in embeds:
        out: dict[str, Any] = {"type": "rich"}
        for key, value in embed.items():
            if value is None:
                continue
            if key in ("image", "thumbnail", "video"):
                out[key] = media(value, "url", "proxy_url")
            elif key in ("footer", "author"):
                out[key] = media(value, "icon_url", "proxy_icon_url")
            elif key == "fields":
                out[key] = [{"inline": False, **{k: v for k, v in f.items() if v is not None}} for f in value]
            else:
                out[key] = value
        rendered.append(out)
    return rendered


def attachment_references(body: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """Every ``attachment://name`` URL of a message body (embeds and components), with its path."""
    found: list[tuple[tuple[str | int, ...], str]] = []

    def visit(node: Any, path: tuple[str | int, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                visit(value, (*path, key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                visit(value, (*path, i))
        elif isinstance(node, str) and node.startswith(ATTACHMENT_SCHEME):
            found.append((path, node[len(ATTACHMENT_SCHEME) :]))

    for key in ("embeds", "components"):
        visit(body.get(key), (key,))
    return found
