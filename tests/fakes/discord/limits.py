"""Discord's documented limits and validators that report violations the way the API does.

Each validator fills a :class:`FieldErrors` (400 / 50035 "Invalid Form Body" with a nested
``errors`` object). Sources: resources/message (content, embeds, attachments), components/reference
(action rows, buttons, selects, custom_id), interactions/application-commands (command definitions)
and interactions/receiving-and-responding (autocomplete, modals) in discord/discord-api-docs.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from .errors import FieldErrors
from .state import FLAG_COMPONENTS_V2, MiB

# --------------------------------------------------------------------------- messages
MAX_CONTENT_LENGTH = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL_CHARS = 6000
MAX_EMBED_TITLE = 256
MAX_EMBED_DESCRIPTION = 4096
MAX_EMBED_FIELDS = 25
MAX_EMBED_FIELD_NAME = 256
MAX_EMBED_FIELD_VALUE = 1024
MAX_EMBED_FOOTER = 2048
MAX_EMBED_AUTHOR = 256
MAX_ATTACHMENTS = 10
MAX_REQUEST_SIZE = 25 * MiB

# --------------------------------------------------------------------------- components
MAX_ACTION_ROWS = 5
MAX_BUTTONS_PER_ROW = 5
MAX_CUSTOM_ID = 100
MAX_BUTTON_LABEL = 80
MAX_SELECT_OPTIONS = 25
MAX_SELECT_PLACEHOLDER = 150
MAX_V2_COMPONENTS = 40
MAX_V2_TEXT = 4000
"""All text displays of a message together (discord.py's ``LayoutView.content_length``: "a maximum of
4000 display characters across all its items"; each one's own 4,000 is in the spec)."""
ACTION_ROW, SECTION, TEXT_DISPLAY, THUMBNAIL, MEDIA_GALLERY, FILE, SEPARATOR, CONTAINER = (
    1,
    9,
    10,
    11,
    12,
    13,
    14,
    17,
)
#: components/reference, "Component Types" (usage: Message) and "Container Child Components"
V2_TOP_LEVEL = frozenset({ACTION_ROW, SECTION, TEXT_DISPLAY, MEDIA_GALLERY, FILE, SEPARATOR, CONTAINER})
CONTAINER_CHILDREN = frozenset({ACTION_ROW, SECTION, TEXT_DISPLAY, MEDIA_GALLERY, FILE, SEPARATOR})
V2_ONLY = frozenset({SECTION, TEXT_DISPLAY, THUMBNAIL, MEDIA_GALLERY, FILE, SEPARATOR, CONTAINER})
BUTTON = 2
SELECT_TYPES = frozenset({3, 5, 6, 7, 8})
TEXT_INPUT = 4
LINK_STYLE = 5
PREMIUM_STYLE = 6

# --------------------------------------------------------------------------- application commands
#: Discord: ``^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$`` (interactions/application-commands,
#: "Application Command Naming"); Python's ``re`` has no \p{...}, see ``chat_input_name_problem``.
NAME_PUNCTUATION = frozenset("-_'")
_DEVANAGARI = ((0x0900, 0x097F), (0xA8E0, 0xA8FF), (0x11B00, 0x11B5F))
_THAI = ((0x0E00, 0x0E7F),)
MAX_COMMAND_DESCRIPTION = 100
MAX_OPTIONS = 25
MAX_CHOICES = 25
MAX_CHOICE_NAME = 100
MAX_CHOICE_STRING_VALUE = 100
MAX_STRING_OPTION_LENGTH = 6000
#: "the combined sum of characters for name, description, and value properties for each command, its
#: options (including subcommands and groups), and choices" (localized: only the longest counts)
MAX_COMMAND_SIZE = 4000
MAX_CHAT_INPUT_COMMANDS = 100
MAX_CONTEXT_MENU_COMMANDS = 15
CHOICE_TYPES = frozenset({3, 4, 10})
SUBCOMMAND, SUBCOMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 3, 4, 5, 6, 7, 8, 9, 10, 11
MAX_SAFE_INTEGER = 2**53

# --------------------------------------------------------------------------- modals
MAX_MODAL_TITLE = 45
MAX_MODAL_COMPONENTS = 5

Path = tuple[str | int, ...]


def _check_len(errors: FieldErrors, path: Path, value: Any, low: int, high: int) -> None:
    if not isinstance(value, str):
        errors.add(
            path, "BASE_TYPE_REQUIRED" if value is None else "BASE_TYPE_STRING", "This field is required"
        )
    elif not low <= len(value) <= high:
        if low == 0:
            errors.max_length(path, high)
        else:
            errors.bad_length(path, low, high)


# =========================================================================== messages
def embed_size(embed: dict[str, Any]) -> int:
    """Characters counted towards the 6000 total: title, description, field names/values, footer, author."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    for fld in embed.get("fields") or []:
        total += len(fld.get("name") or "") + len(fld.get("value") or "")
    return total


def validate_embeds(embeds: Any, errors: FieldErrors) -> None:
    if not isinstance(embeds, list):
        errors.add(("embeds",), "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return
    if len(embeds) > MAX_EMBEDS:
        errors.max_length(("embeds",), MAX_EMBEDS)
    for i, embed in enumerate(embeds):
        path: Path = ("embeds", i)
        for key, limit in (("title", MAX_EMBED_TITLE), ("description", MAX_EMBED_DESCRIPTION)):
            if len(embed.get(key) or "") > limit:
                errors.max_length((*path, key), limit)
        if len((embed.get("footer") or {}).get("text") or "") > MAX_EMBED_FOOTER:
            errors.max_length((*path, "footer", "text"), MAX_EMBED_FOOTER)
        if len((embed.get("author") or {}).get("name") or "") > MAX_EMBED_AUTHOR:
            errors.max_length((*path, "author", "name"), MAX_EMBED_AUTHOR)
        fields = embed.get("fields") or []
        if len(fields) > MAX_EMBED_FIELDS:
            errors.max_length((*path, "fields"), MAX_EMBED_FIELDS)
        for j, fld in enumerate(fields):
            _check_len(errors, (*path, "fields", j, "name"), fld.get("name"), 1, MAX_EMBED_FIELD_NAME)
            _check_len(errors, (*path, "fields", j, "value"), fld.get("value"), 1, MAX_EMBED_FIELD_VALUE)
    total = sum(embed_size(e) for e in embeds if isinstance(e, dict))
    if total > MAX_EMBED_TOTAL_CHARS:
        errors.add(
            ("embeds",),
            "MESSAGE_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL_CHARS} (got {total})",
        )


def _validate_button(comp: dict[str, Any], path: Path, errors: FieldErrors) -> None:
    style = comp.get("style")
    if style not in range(1, 7):
        errors.add(
            (*path, "style"),
            "BASE_TYPE_CHOICES",
            f"Value must be one of {{1, 2, 3, 4, 5, 6}} (got {style!r})",
        )
    label = comp.get("label")
    if label is not None and len(label) > MAX_BUTTON_LABEL:
        errors.max_length((*path, "label"), MAX_BUTTON_LABEL)
    if style == LINK_STYLE:
        if not comp.get("url"):
            errors.add((*path, "url"), "BASE_TYPE_REQUIRED", "This field is required")
        if "custom_id" in comp:
            errors.add(
                (*path, "custom_id"),
                "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                "Link buttons cannot have a custom_id",
            )
    elif style != PREMIUM_STYLE and "custom_id" not in comp:
        errors.add((*path, "custom_id"), "BASE_TYPE_REQUIRED", "This field is required")


def _validate_select(comp: dict[str, Any], path: Path, errors: FieldErrors) -> None:
    placeholder = comp.get("placeholder")
    if placeholder is not None and len(placeholder) > MAX_SELECT_PLACEHOLDER:
        errors.max_length((*path, "placeholder"), MAX_SELECT_PLACEHOLDER)
    if not 0 <= comp.get("min_values", 1) <= MAX_SELECT_OPTIONS:
        errors.add((*path, "min_values"), "NUMBER_TYPE_MAX", f"min_values must be 0..{MAX_SELECT_OPTIONS}")
    if not 1 <= comp.get("max_values", 1) <= MAX_SELECT_OPTIONS:
        errors.add((*path, "max_values"), "NUMBER_TYPE_MAX", f"max_values must be 1..{MAX_SELECT_OPTIONS}")
    if comp.get("type") == 3:
        options = comp.get("options") or []
        if not 1 <= len(options) <= MAX_SELECT_OPTIONS:
            errors.bad_length((*path, "options"), 1, MAX_SELECT_OPTIONS)
        for k, opt in enumerate(options):
            _check_len(errors, (*path, "options", k, "label"), opt.get("label"), 1, 100)
            _check_len(errors, (*path, "options", k, "value"), opt.get("value"), 1, 100)


def _check_custom_ids(components: Iterable[tuple[Path, dict[str, Any]]], errors: FieldErrors) -> None:
    seen: set[str] = set()
    for path, comp in components:
        if "custom_id" not in comp:
            continue
        custom_id = comp["custom_id"]
        _check_len(errors, (*path, "custom_id"), custom_id, 1, MAX_CUSTOM_ID)
        if custom_id in seen:
            errors.add(
                (*path, "custom_id"),
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                f"Component custom id cannot be duplicated ({custom_id!r})",
            )
        seen.add(custom_id)


def _walk(components: list[dict[str, Any]], path: Path) -> Iterable[tuple[Path, dict[str, Any]]]:
    for i, comp in enumerate(components):
        here = (*path, i)
        yield here, comp
        yield from _walk(comp.get("components") or [], (*here, "components"))
        for key in ("component", "accessory"):
            if key in comp:
                yield from _walk([comp[key]], (*here, key))


def _validate_row(row: dict[str, Any], path: Path, errors: FieldErrors) -> None:
    children = row.get("components") or []
    if not children:
        errors.bad_length((*path, "components"), 1, MAX_BUTTONS_PER_ROW)
    has_select = any(c.get("type") in SELECT_TYPES for c in children)
    if len(children) > MAX_BUTTONS_PER_ROW or (has_select and len(children) > 1):
        errors.add(
            (*path, "components"),
            "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
            "The specified component exceeds the maximum width (5 buttons or 1 select per row)",
        )
    for j, comp in enumerate(children):
        cpath: Path = (*path, "components", j)
        ctype = comp.get("type")
        if ctype == BUTTON:
            _validate_button(comp, cpath, errors)
        elif ctype in SELECT_TYPES:
            _validate_select(comp, cpath, errors)
        else:
            errors.add(
                (*cpath, "type"),
                "COMPONENT_TYPE_INVALID",
                f"Component type {ctype!r} is not allowed in a message action row",
            )


def _validate_v2(
    components: list[dict[str, Any]], walked: list[tuple[Path, dict[str, Any]]], errors: FieldErrors
) -> None:
    """Components v2 (IS_COMPONENTS_V2): 40 components in all, the layout rules of each type, 4,000
    characters of text in all, File components only for attachments (components/reference)."""
    if len(walked) > MAX_V2_COMPONENTS:
        errors.add(
            ("components",),
            "COMPONENT_MAX_TOTAL_COMPONENTS_EXCEEDED",
            f"The specified component exceeds the maximum of {MAX_V2_COMPONENTS} total components",
        )
    for i, comp in enumerate(components):
        if comp.get("type") not in V2_TOP_LEVEL:
            errors.add(
                ("components", i, "type"),
                "UNION_TYPE_CHOICES",
                f"Component type {comp.get('type')!r} cannot be a top-level message component",
            )
    text = 0
    for path, comp in walked:
        ctype = comp.get("type")
        if ctype == ACTION_ROW:
            _validate_row(comp, path, errors)
        elif ctype == CONTAINER:
            for j, child in enumerate(comp.get("components") or []):
                if child.get("type") not in CONTAINER_CHILDREN:
                    errors.add(
                        (*path, "components", j, "type"),
                        "UNION_TYPE_CHOICES",
                        f"Component type {child.get('type')!r} is not allowed in a container",
                    )
        elif ctype == TEXT_DISPLAY:
            text += len(comp.get("content") or "")
        elif ctype == FILE:
            url = (comp.get("file") or {}).get("url", "")
            if not str(url).startswith("attachment://"):
                errors.add(
                    (*path, "file", "url"),
                    "COMPONENT_FILE_URL_NOT_ATTACHMENT",
                    "A file component only supports attachment://<filename> references",
                )
    if text > MAX_V2_TEXT:
        errors.add(
            ("components",),
            "COMPONENT_MAX_TEXT_LENGTH_EXCEEDED",
            f"The text of all components exceeds the maximum of {MAX_V2_TEXT} characters (got {text})",
        )


def validate_components(components: Any, flags: int, errors: FieldErrors) -> None:
    if not isinstance(components, list):
        errors.add(("components",), "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return
    walked = list(_walk(components, ("components",)))
    _check_custom_ids(walked, errors)
    if flags & FLAG_COMPONENTS_V2:
        _validate_v2(components, walked, errors)
        return
    if len(components) > MAX_ACTION_ROWS:
        errors.max_length(("components",), MAX_ACTION_ROWS)
    for i, row in enumerate(components):
        path: Path = ("components", i)
        if row.get("type") != ACTION_ROW:
            what = (
                "needs the IS_COMPONENTS_V2 flag"
                if row.get("type") in V2_ONLY
                else "is not a message component"
            )
            errors.add(
                (*path, "type"),
                "UNION_TYPE_CHOICES",
                f"Top-level components must be action rows (type 1) unless the message sets IS_COMPONENTS_V2 "
                f"(type {row.get('type')!r} {what})",
            )
            continue
        _validate_row(row, path, errors)


def validate_message_body(body: dict[str, Any], errors: FieldErrors) -> None:
    """Content, embeds and components of a create/edit body (files are checked by the caller)."""
    flags = int(body.get("flags") or 0)
    content = body.get("content")
    if content is not None:
        if not isinstance(content, str):
            errors.add(("content",), "BASE_TYPE_STRING", "Must be a string")
        elif len(content) > MAX_CONTENT_LENGTH:
            errors.max_length(("content",), MAX_CONTENT_LENGTH)
    if body.get("embeds") is not None:
        validate_embeds(body["embeds"], errors)
    if body.get("components") is not None:
        validate_components(body["components"], flags, errors)
    if flags & FLAG_COMPONENTS_V2 and (content or body.get("embeds")):
        errors.add(
            ("content",),
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used when using the IS_COMPONENTS_V2 flag",
        )


# =========================================================================== application commands
def _in_script(char: str, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= ord(char) <= high for low, high in ranges)


def chat_input_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid slash command or option name, or None (the documented regex and
    "if there is a lowercase variant of any letters used, you must use those")."""
    if not 1 <= len(name) <= 32:
        return "must be 1-32 characters"
    for char in name:
        allowed = (
            char in NAME_PUNCTUATION
            or unicodedata.category(char)[0] in "LN"
            or _in_script(char, _DEVANAGARI)
            or _in_script(char, _THAI)
        )
        if not allowed:
            return f"{char!r} is not a letter, digit, '-', '_' or \"'\""
        if char.lower() != char:
            return f"{char!r} has a lowercase variant, which must be used"
    return None


def _check_name(name: Any, path: Path, errors: FieldErrors, *, chat_input: bool) -> None:
    if not isinstance(name, str):
        errors.add((*path, "name"), "BASE_TYPE_REQUIRED", "This field is required")
    elif chat_input and (problem := chat_input_name_problem(name)) is not None:
        errors.add(
            (*path, "name"),
            "APPLICATION_COMMAND_INVALID_NAME",
            f"Command name is invalid: {name!r} ({problem})",
        )
    elif not chat_input and not 1 <= len(name) <= 32:
        errors.bad_length((*path, "name"), 1, 32)


def _check_localized_names(item: dict[str, Any], path: Path, errors: FieldErrors) -> None:
    """Localized names follow the same restrictions as the name."""
    for locale, name in (item.get("name_localizations") or {}).items():
        problem = chat_input_name_problem(name) if isinstance(name, str) else "must be a string"
        if problem is not None:
            errors.add(
                (*path, "name_localizations", locale),
                "APPLICATION_COMMAND_INVALID_NAME",
                f"Localized name is invalid: {name!r} ({problem})",
            )


def _longest(item: dict[str, Any], key: str) -> int:
    """A field's size: its longest text among the default and its localizations."""
    texts = [str(item.get(key) or "")]
    texts += [str(t) for t in (item.get(f"{key}_localizations") or {}).values()]
    return max(len(t) for t in texts)


def command_size(cmd: dict[str, Any]) -> int:
    """Characters counted towards MAX_COMMAND_SIZE: names, descriptions and choice names and values of
    the command, its options (sub-commands and groups included) and choices."""
    total = _longest(cmd, "name") + _longest(cmd, "description")
    for opt in cmd.get("options") or []:
        if isinstance(opt, dict):
            total += command_size(opt)
            for choice in opt.get("choices") or []:
                total += _longest(choice, "name") + len(str(choice.get("value", "")))
    return total


def _validate_choices(opt: dict[str, Any], path: Path, errors: FieldErrors) -> None:
    choices = opt.get("choices")
    if not choices:
        return
    otype = opt.get("type")
    if otype not in CHOICE_TYPES:
        errors.add(
            (*path, "choices"), "APPLICATION_COMMAND_OPTION_CHOICES_INVALID", "Choices only for 3/4/10"
        )
    if opt.get("autocomplete"):
        errors.add(
            (*path, "autocomplete"),
            "APPLICATION_COMMAND_AUTOCOMPLETE_AND_CHOICES",
            "Autocomplete cannot be set on options that have choices",
        )
    if len(choices) > MAX_CHOICES:
        errors.max_length((*path, "choices"), MAX_CHOICES)
    for k, choice in enumerate(choices):
        cpath: Path = (*path, "choices", k)
        _check_len(errors, (*cpath, "name"), choice.get("name"), 1, MAX_CHOICE_NAME)
        value = choice.get("value")
        if otype == STRING:
            _check_len(errors, (*cpath, "value"), value, 1, MAX_CHOICE_STRING_VALUE)
        elif otype == INTEGER and (not isinstance(value, int) or abs(value) > MAX_SAFE_INTEGER):
            errors.add((*cpath, "value"), "NUMBER_TYPE_COERCE", f"Value {value!r} is not int.")
        elif otype == NUMBER and not isinstance(value, int | float):
            errors.add((*cpath, "value"), "NUMBER_TYPE_COERCE", f"Value {value!r} is not a number.")


def _validate_value_option(opt: dict[str, Any], path: Path, errors: FieldErrors) -> None:
    otype = opt.get("type")
    _validate_choices(opt, path, errors)
    for key, low in (("min_length", 0), ("max_length", 1)):
        if key in opt:
            if otype != STRING:
                errors.add(
                    (*path, key), "APPLICATION_COMMAND_OPTION_INVALID", f"{key} is only for STRING options"
                )
            elif not low <= opt[key] <= MAX_STRING_OPTION_LENGTH:
                errors.add(
                    (*path, key),
                    "NUMBER_TYPE_MAX",
                    f"{key} must be between {low} and {MAX_STRING_OPTION_LENGTH}",
                )
    for key in ("min_value", "max_value"):
        if key in opt and otype not in (INTEGER, NUMBER):
            errors.add(
                (*path, key), "APPLICATION_COMMAND_OPTION_INVALID", f"{key} is only for INTEGER/NUMBER"
            )
    if "channel_types" in opt and otype != CHANNEL:
        errors.add(
            (*path, "channel_types"), "APPLICATION_COMMAND_OPTION_INVALID", "channel_types only for CHANNEL"
        )
    if opt.get("autocomplete") and otype not in CHOICE_TYPES:
        errors.add(
            (*path, "autocomplete"), "APPLICATION_COMMAND_OPTION_INVALID", "autocomplete only for 3/4/10"
        )


def _validate_options(options: Any, path: Path, errors: FieldErrors, *, depth: int) -> None:
    if not isinstance(options, list):
        errors.add(path, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return
    if len(options) > MAX_OPTIONS:
        errors.max_length(path, MAX_OPTIONS)
    kinds = {opt.get("type") in (SUBCOMMAND, SUBCOMMAND_GROUP) for opt in options}
    if len(kinds) > 1:
        errors.add(
            path, "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Sub-commands cannot be mixed with options"
        )
    names: set[str] = set()
    seen_optional = False
    for i, opt in enumerate(options):
        opath: Path = (*path, i)
        otype = opt.get("type")
        if otype not in range(1, 12):
            errors.add((*opath, "type"), "BASE_TYPE_CHOICES", f"Value must be one of 1..11 (got {otype!r})")
            continue
        _check_name(opt.get("name"), opath, errors, chat_input=True)
        _check_localized_names(opt, opath, errors)
        _check_len(errors, (*opath, "description"), opt.get("description"), 1, MAX_COMMAND_DESCRIPTION)
        if opt.get("name") in names:
            errors.add(
                (*opath, "name"), "APPLICATION_COMMAND_OPTIONS_DUPLICATE_NAME", "Option names must be unique"
            )
        names.add(opt.get("name"))
        if otype == SUBCOMMAND_GROUP:
            if depth > 0:
                errors.add(
                    (*opath, "type"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Groups nest only once"
                )
            subs = opt.get("options") or []
            if any(s.get("type") != SUBCOMMAND for s in subs):
                errors.add(
                    (*opath, "options"),
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Groups contain sub-commands",
                )
            _validate_options(subs, (*opath, "options"), errors, depth=depth + 1)
        elif otype == SUBCOMMAND:
            if depth > 1:
                errors.add(
                    (*opath, "type"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Sub-commands nest too deep"
                )
            _validate_options(opt.get("options") or [], (*opath, "options"), errors, depth=2)
        else:
            if opt.get("required"):
                if seen_optional:
                    errors.add(
                        (*opath, "required"),
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
            else:
                seen_optional = True
            _validate_value_option(opt, opath, errors)


def validate_command(cmd: Any, path: Path, errors: FieldErrors) -> None:
    if not isinstance(cmd, dict):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    ctype = cmd.get("type", 1)
    if ctype not in (1, 2, 3, 4):
        errors.add((*path, "type"), "BASE_TYPE_CHOICES", f"Value must be one of 1..4 (got {ctype!r})")
        return
    chat_input = ctype == 1
    _check_name(cmd.get("name"), path, errors, chat_input=chat_input)
    if chat_input:
        _check_localized_names(cmd, path, errors)
    if chat_input:
        _check_len(errors, (*path, "description"), cmd.get("description"), 1, MAX_COMMAND_DESCRIPTION)
        _validate_options(cmd.get("options") or [], (*path, "options"), errors, depth=0)
    elif cmd.get("description"):
        errors.add(
            (*path, "description"), "APPLICATION_COMMAND_INVALID", "Context menu commands have no description"
        )
    perms = cmd.get("default_member_permissions")
    if perms is not None and not str(perms).isdigit():
        errors.add((*path, "default_member_permissions"), "BASE_TYPE_BAD_INT", "Invalid permissions")
    size = command_size(cmd)
    if size > MAX_COMMAND_SIZE:
        errors.add(
            path,
            "APPLICATION_COMMAND_TOO_LARGE",
            f"Command exceeds maximum size ({MAX_COMMAND_SIZE}): {size} characters",
        )


def validate_command_list(commands: Any) -> FieldErrors:
    """Validates a bulk-overwrite body (PUT .../commands)."""
    errors = FieldErrors()
    if not isinstance(commands, list):
        errors.add((), "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return errors
    seen: set[tuple[Any, Any]] = set()
    counts = {1: 0, 2: 0, 3: 0, 4: 0}
    for i, cmd in enumerate(commands):
        validate_command(cmd, (i,), errors)
        if not isinstance(cmd, dict):
            continue
        key = (cmd.get("type", 1), cmd.get("name"))
        if key in seen:
            errors.add(
                (i, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique"
            )
        seen.add(key)
        counts[key[0]] = counts.get(key[0], 0) + 1
    if counts[1] > MAX_CHAT_INPUT_COMMANDS or max(counts[2], counts[3]) > MAX_CONTEXT_MENU_COMMANDS:
        errors.add(
            (), "APPLICATION_COMMANDS_COUNT_EXCEEDED", "Maximum number of application commands reached"
        )
    return errors


# =========================================================================== interaction responses
def validate_autocomplete_choices(data: dict[str, Any]) -> FieldErrors:
    errors = FieldErrors()
    choices = data.get("choices")
    if not isinstance(choices, list):
        errors.add(("data", "choices"), "BASE_TYPE_REQUIRED", "This field is required")
        return errors
    if len(choices) > MAX_CHOICES:
        errors.max_length(("data", "choices"), MAX_CHOICES)
    for k, choice in enumerate(choices):
        _check_len(errors, ("data", "choices", k, "name"), choice.get("name"), 1, MAX_CHOICE_NAME)
        value = choice.get("value")
        if isinstance(value, str) and len(value) > MAX_CHOICE_STRING_VALUE:
            errors.max_length(("data", "choices", k, "value"), MAX_CHOICE_STRING_VALUE)
    return errors


def validate_modal(data: dict[str, Any]) -> FieldErrors:
    errors = FieldErrors()
    _check_len(errors, ("data", "custom_id"), data.get("custom_id"), 1, MAX_CUSTOM_ID)
    _check_len(errors, ("data", "title"), data.get("title"), 1, MAX_MODAL_TITLE)
    components = data.get("components") or []
    if not 1 <= len(components) <= MAX_MODAL_COMPONENTS:
        errors.bad_length(("data", "components"), 1, MAX_MODAL_COMPONENTS)
    _check_custom_ids(_walk(components, ("data", "components")), errors)
    return errors
