"""comfycord invite: exactly the scopes and permissions the bot needs, client id from the token."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest

from bot import cli
from bot.__main__ import build_parser
from bot.cli.common import EXIT_OK, EXIT_USAGE
from bot.cli.invite import (
    PERMISSION_BITS,
    PERMISSIONS,
    SCOPES,
    application_id_from_token,
    invite_url,
    run_invite,
)
from bot.config import load_settings

APP_ID = 1234567890123456789


def token_for(app_id: int) -> str:
    first = base64.b64encode(str(app_id).encode()).decode().rstrip("=")
    return first + ".GabcDE." + "z" * 38


def settings_with(token: str = ""):
    return load_settings({"DISCORD_TOKEN": token} if token else {}, require_discord=False)


def query(url: str) -> dict[str, list[str]]:
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "discord.com", "/oauth2/authorize")
    return parse_qs(parts.query)


def test_the_permissions_are_exactly_the_named_bits() -> None:
    assert PERMISSION_BITS == {
        "View Channel": 1 << 10,
        "Send Messages": 1 << 11,
        "Send Messages in Threads": 1 << 38,
        "Embed Links": 1 << 14,
        "Attach Files": 1 << 15,
        "Read Message History": 1 << 16,
    }
    assert PERMISSIONS == 274878024704
    for unwanted in (1 << 3, 1 << 13, 1 << 18):  # Administrator, Manage Messages, Use External Emojis
        assert not PERMISSIONS & unwanted


def test_the_url_has_exactly_the_two_scopes_and_the_permissions() -> None:
    params = query(invite_url(APP_ID))
    assert params == {
        "client_id": [str(APP_ID)],
        "scope": ["bot applications.commands"],
        "permissions": [str(PERMISSIONS)],
    }
    assert SCOPES == ("bot", "applications.commands")


def test_the_application_id_comes_from_the_token() -> None:
    assert application_id_from_token(token_for(APP_ID)) == APP_ID
    assert application_id_from_token(token_for(81384788765712384)) == 81384788765712384  # 17 digits
    assert application_id_from_token("not-base64!.x.y") is None
    assert application_id_from_token(base64.b64encode(b"hello world").decode() + ".a.b") is None
    assert application_id_from_token("") is None


def test_invite_prints_the_url_from_the_token(capsys) -> None:
    assert run_invite(settings_with(token_for(APP_ID)), None) == EXIT_OK
    first_line = capsys.readouterr().out.splitlines()[0]
    assert query(first_line)["client_id"] == [str(APP_ID)]


def test_client_id_argument_wins_over_the_token(capsys) -> None:
    args = build_parser().parse_args(["invite", "--client-id", "42424242424242424"])
    assert cli.dispatch("invite", args, settings_with(token_for(APP_ID))) == EXIT_OK
    first_line = capsys.readouterr().out.splitlines()[0]
    assert query(first_line)["client_id"] == ["42424242424242424"]


@pytest.mark.parametrize(
    ("token", "client_id", "message"),
    [
        ("", None, "DISCORD_TOKEN is not set"),
        ("", "abc", "--client-id must be the numeric application id"),
        ("Zm9vYmFyYmF6cXV4cXV1eHF1dXg" + ".GabcDE." + "z" * 38, None, "does not decode"),
    ],
)
def test_invite_says_what_is_missing(token: str, client_id: str | None, message: str, capsys) -> None:
    assert run_invite(settings_with(token), client_id) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err
