"""The one allow-list: where Discord's OpenAPI spec is known to disagree with what really works.

Each entry names the operations, the JSON paths (dotted; a segment is an fnmatch glob for exactly one
key or index, so ``*.nsfw`` is ``$[3].nsfw``), the rule and why it is allowed. Anything not listed here
fails the test that produced it. Hits are counted (``conformance.TOTALS.gap_hits``) and printed in the
suite summary, so an entry nobody needs any more shows up with 0 hits.

Unknown request properties listed here are taken out of the body before it is checked (Discord ignores
them); everything else is matched against the violations found.
"""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

UNKNOWN_PROPERTY = "unknown property"
ANY_OPERATION = "*"

COMMAND_WRITES = frozenset(
    {
        "bulk_set_application_commands",
        "bulk_set_guild_application_commands",
        "create_application_command",
        "create_guild_application_command",
    }
)
MESSAGE_EDITS = frozenset({"update_message", "update_original_webhook_message", "update_webhook_message"})
MESSAGE_WRITES = MESSAGE_EDITS | {"create_message", "execute_webhook", "create_interaction_response"}


@dataclass(frozen=True)
class KnownGap:
    name: str
    operations: frozenset[str]  #: operationIds, or ``{"*"}``
    paths: tuple[str, ...]  #: dotted JSON paths, one fnmatch glob per segment
    rule: str  #: fnmatch glob over the violation's rule (``unknown property``, ``type: *``)
    reason: str
    direction: str = "request"
    status: int | None = None  #: only answers with this status (responses)

    def applies_to(self, operation_id: str, direction: str, status: int | None = None) -> bool:
        return (
            direction == self.direction
            and (ANY_OPERATION in self.operations or operation_id in self.operations)
            and (self.status is None or status == self.status)
        )

    def covers(self, path: Iterable[str | int], rule: str) -> bool:
        segments = [str(p) for p in path]
        return fnmatch.fnmatchcase(rule, self.rule) and any(
            _matches(segments, pattern.split(".")) for pattern in self.paths
        )


def _matches(segments: list[str], pattern: list[str]) -> bool:
    return len(segments) == len(pattern) and all(
        fnmatch.fnmatchcase(seg, glob) for seg, glob in zip(segments, pattern, strict=True)
    )


KNOWN_GAPS: tuple[KnownGap, ...] = (
    KnownGap(
        "command-nsfw",
        COMMAND_WRITES,
        ("*.nsfw", "nsfw"),
        UNKNOWN_PROPERTY,
        "`nsfw` (age-restricted command) is documented in interactions/application-commands and sent by "
        "discord.py's Command.to_dict, but missing from the spec's command create/update schemas.",
    ),
    KnownGap(
        "edit-tts",
        MESSAGE_EDITS | {"create_interaction_response"},
        ("tts", "data.tts"),
        UNKNOWN_PROPERTY,
        "discord.py 2.7.1's handle_message_parameters puts `tts` in every edit body (message edits and the "
        "UPDATE_MESSAGE callback); Discord ignores it (an edit cannot change tts) and the spec's edit "
        "schemas do not list it.",
    ),
    KnownGap(
        "embed-flags",
        MESSAGE_WRITES,
        ("embeds.*.flags", "data.embeds.*.flags"),
        UNKNOWN_PROPERTY,
        "discord.py 2.7.1's Embed.to_dict sends the embed's `flags` (a response-only field it parsed or "
        "defaulted); Discord ignores it and the spec's request embed (RichEmbed) does not list it.",
    ),
    KnownGap(
        "kept-attachment-fields",
        MESSAGE_WRITES,
        tuple(
            f"{prefix}attachments.*.{key}"
            for prefix in ("", "data.")
            for key in ("url", "proxy_url", "size", "spoiler", "content_type", "width", "height")
        ),
        UNKNOWN_PROPERTY,
        "To keep an existing attachment, discord.py 2.7.1 sends its whole Attachment.to_dict() (url, size, "
        "...) in `attachments`; Discord reads the id (and filename/description) and ignores the rest, "
        "which the spec's MessageAttachmentRequest does not list.",
    ),
    KnownGap(
        "webhook-files",
        frozenset({"execute_webhook", "create_interaction_response"}),
        ("files?*",),
        "multipart",
        'The docs (resources/webhook "Execute Webhook", interactions/receiving-and-responding "Create '
        "Interaction Response\") accept `files[n]` parts, like every message write; the spec's multipart "
        "schemas of these two operations list none (those of the other message writes do).",
    ),
    KnownGap(
        "ratelimit-code",
        frozenset({ANY_OPERATION}),
        ("code",),
        "required",
        'The docs (topics/rate-limits "Rate Limit Response Structure") make `code` optional in a 429 body '
        "and their examples have none; the spec's RatelimitedResponse requires it. The docs win.",
        direction="response",
        status=429,
    ),
    KnownGap(
        "field-error-codes",
        frozenset({ANY_OPERATION}),
        tuple(
            "errors." + ".".join(["*"] * depth) + "._errors.*.code" for depth in range(1, 11)
        ),  # v2 media urls nest deep
        "type: *",
        'A 50035 answer\'s per-field errors carry string codes ("BASE_TYPE_MAX_LENGTH", reference '
        '"Error Messages" in the docs); the spec\'s InnerErrors reuses Error, whose `code` is an integer.',
        direction="response",
    ),
)

_STRIPPED = tuple(g for g in KNOWN_GAPS if g.direction == "request" and g.rule == UNKNOWN_PROPERTY)


def known_gap(
    operation_id: str, direction: str, path: Iterable[str | int], rule: str, status: int | None = None
) -> KnownGap | None:
    path = list(path)
    for gap in KNOWN_GAPS:
        if gap.applies_to(operation_id, direction, status) and gap.covers(path, rule):
            return gap
    return None


def strip_known_properties(operation_id: str, body: Any) -> tuple[Any, list[str]]:
    """The body without the allow-listed unknown properties (copied only if any is present), and the names
    of the gaps that matched, once per property removed."""
    found: list[tuple[KnownGap, list[str | int]]] = []
    for gap in _STRIPPED:
        if gap.applies_to(operation_id, "request"):
            for pattern in gap.paths:
                found += [(gap, path) for path in _find(body, pattern.split("."), [])]
    if not found:
        return body, []
    copies: dict[int, Any] = {}  # only the containers on the way to a removed key are copied

    def own(node: Any) -> Any:
        if id(node) not in copies:
            copies[id(node)] = copy.copy(node)
        return copies[id(node)]

    root = own(body)
    for _gap, path in found:
        parent = root
        for part in path[:-1]:
            child = own(parent[part])
            parent[part] = child
            parent = child
        del parent[path[-1]]
    return root, [gap.name for gap, _path in found]


def _find(node: Any, pattern: list[str], at: list[str | int]) -> Iterable[list[str | int]]:
    """Paths in ``node`` matching ``pattern`` (walks only the branches the pattern names)."""
    head, rest = pattern[0], pattern[1:]
    items: list[tuple[str | int, Any]]
    if isinstance(node, dict):
        if any(c in head for c in "*?["):
            items = [(k, v) for k, v in node.items() if fnmatch.fnmatchcase(k, head)]
        else:
            items = [(head, node[head])] if head in node else []
    elif isinstance(node, list):
        items = [(i, v) for i, v in enumerate(node) if fnmatch.fnmatchcase(str(i), head)]
    else:
        return
    for key, value in items:
        if rest:
            yield from _find(value, rest, [*at, key])
        else:
            yield [*at, key]
