"""``comfycord invite``: the OAuth2 URL that adds the bot to a server with exactly what it needs."""

from __future__ import annotations

import base64
import binascii
from typing import Final
from urllib.parse import urlencode

from bot.cli.common import EXIT_OK, EXIT_USAGE, fail
from bot.config import Settings

AUTHORIZE_URL: Final = "https://discord.com/oauth2/authorize"
SCOPES: Final = ("bot", "applications.commands")

# Each permission the bot asks for, as a named bit (discord.com/developers/docs/topics/permissions).
PERMISSION_BITS: Final[dict[str, int]] = {
    # See the channels it is used in (and receive their interactions' messages).
    "View Channel": 1 << 10,
    # Post status messages and results in channels.
    "Send Messages": 1 << 11,
    # The same inside threads, where communities often keep image channels.
    "Send Messages in Threads": 1 << 38,
    # Status messages are embeds (progress, queue position, previews).
    "Embed Links": 1 << 14,
    # Results and previews are image attachments.
    "Attach Files": 1 << 15,
    # Edit and find its own earlier status messages after a restart.
    "Read Message History": 1 << 16,
}
"""Deliberately nothing more: no Administrator, no Manage Messages, no Use External Emojis."""

PERMISSIONS: Final = sum(PERMISSION_BITS.values())


def application_id_from_token(token: str) -> int | None:
    """The bot's user id (equal to its application id) from a token's first segment, if it decodes."""
    first = token.strip().split(".", 1)[0]
    if not first:
        return None
    try:
        text = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not text.isdigit() or not 15 <= len(text) <= 21:
        return None
    return int(text)


def invite_url(client_id: int, permissions: int = PERMISSIONS) -> str:
    """The OAuth2 invite URL for ``client_id`` with the bot's scopes and permissions."""
    query = urlencode({"client_id": client_id, "scope": " ".join(SCOPES), "permissions": permissions})
    return f"{AUTHORIZE_URL}?{query}"


def run_invite(settings: Settings, client_id: str | None) -> int:
    if client_id is not None:
        if not client_id.strip().isdigit():
            fail(f"--client-id must be the numeric application id, got {client_id!r}")
            return EXIT_USAGE
        app_id = int(client_id.strip())
    else:
        token = settings.discord_token.reveal()
        if not token:
            fail(
                "no --client-id given and DISCORD_TOKEN is not set: pass the Application ID from the "
                "developer portal's General Information page"
            )
            return EXIT_USAGE
        found = application_id_from_token(token)
        if found is None:
            fail("DISCORD_TOKEN's first part does not decode to an application id; pass --client-id")
            return EXIT_USAGE
        app_id = found
    print(invite_url(app_id))
    print()
    print(f"Scopes: {' '.join(SCOPES)}")
    print(f"Permissions ({PERMISSIONS}): {', '.join(PERMISSION_BITS)}")
    print("Open the URL as a member with Manage Server on the server you want to add the bot to.")
    return EXIT_OK
