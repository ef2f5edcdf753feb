"""Log redaction: no bot token, Authorization value or configured secret reaches the output."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.config import load_settings
from bot.logsetup import configure_logging
from bot.observability import RedactingFilter, redact, secrets_of

# Shaped like real tokens: base64 of a snowflake, a timestamp, an HMAC (built here, never a real one).
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA" + ".GabcDE." + "h" * 10 + "Q" * 28
OLD_TOKEN = "NDU2Nzg5MDEyMzQ1Njc4OTAx" + ".XyZ12a." + "k" * 27
# base64url of "interaction:<id>:<secret>", the shape of Discord's interaction tokens.
INTERACTION = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OTA6" + "c2VjcmV0" * 12


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"logging in with {TOKEN}", "logging in with ***"),
        (f"token={OLD_TOKEN}; retrying", "token=***; retrying"),
        ("headers {'Authorization': 'Bot abc.def.ghi', 'X': 1}", "headers {'Authorization': '***', 'X': 1}"),
        ('{"authorization": "Bearer s3cr3t-token"}', '{"authorization": "***"}'),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: ***"),
        ("sent Bearer sk-live-9f8e7d6c5b4a to the proxy", "sent Bearer *** to the proxy"),
        ("proxy wants basic dXNlcjpwYXNzd29yZA==", "proxy wants basic ***"),
        # Interaction tokens, the way discord.py's DEBUG lines print them.
        (
            f"PATCH https://discord.com/api/v10/webhooks/1234567890/{INTERACTION}/messages/@original "
            "with None has returned 200",
            "PATCH https://discord.com/api/v10/webhooks/1234567890/***/messages/@original "
            "with None has returned 200",
        ),
        (
            "POST https://discord.com/api/v10/interactions/998877/some-opaque-token/callback?with_response=1",
            "POST https://discord.com/api/v10/interactions/998877/***/callback?with_response=1",
        ),
        (
            "WebSocket Event: {'t': 'INTERACTION_CREATE', 'd': {'token': 'opaque.token-1', 'id': '5'}}",
            "WebSocket Event: {'t': 'INTERACTION_CREATE', 'd': {'token': '***', 'id': '5'}}",
        ),
        ('{"token": "opaque", "type": 2}', '{"token": "***", "type": 2}'),
        ('extra="{\\"token\\": \\"x1\\"}"', 'extra="{\\"token\\": \\"***\\"}"'),
        (
            f"executing INSERT ... ('111', 42, '{INTERACTION}', 7)",
            "executing INSERT ... ('111', 42, '***', 7)",
        ),
    ],
)
def test_credentials_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "job=abc123 dispatched to 127.0.0.1:8188",
        "basic checks passed",
        "Bot is ready as comfycord#1234 in 3 guilds",
        "file v1-5-pruned-emaonly.safetensors loaded",
        "prompt_id=2f1e0b8c-6a2d-4c7e-9f3a-1b2c3d4e5f60",
        "job=abc token budget: 3 edits left",
        "GET /webhooks/ is not a route we use",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_configured_secrets_are_redacted_but_not_tiny_ones() -> None:
    assert redact("password hunter22 and pw", ["hunter22", "pw"]) == "password *** and pw"


def test_secrets_of_the_settings() -> None:
    settings = load_settings(
        {
            "DISCORD_TOKEN": TOKEN,
            "COMFYUI_URLS": "https://alice:pa55word@gpu.example, http://b:8188",
            "COMFYUI_AUTH_2": "header:X-Api-Key:key-456789",
        }
    )
    assert set(secrets_of(settings)) == {TOKEN, "alice:pa55word", "key-456789"}


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _capture(fmt: str, monkeypatch, secrets: tuple[str, ...] = ()) -> io.StringIO:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging("INFO", fmt, secrets=secrets)
    return stream


@pytest.mark.usefixtures("restore_root_logger")
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_configure_logging_redacts_messages_args_extras_and_tracebacks(fmt: str, monkeypatch) -> None:
    stream = _capture(fmt, monkeypatch, secrets=("key-456789",))
    log = logging.getLogger("bot.some.child")  # propagates to the root handler
    log.info("connecting with %s", TOKEN)
    log.warning("proxy said no", extra={"header": "Bearer Zm9vYmFyMTIz", "job": "abc"})
    log.info("api key key-456789 set")
    try:
        raise RuntimeError(f"login failed for {TOKEN}")
    except RuntimeError:
        log.exception("gateway error")

    output = stream.getvalue()
    assert TOKEN not in output
    assert "Zm9vYmFyMTIz" not in output
    assert "key-456789" not in output
    assert "connecting with ***" in output
    assert "RuntimeError: login failed for ***" in output
    if fmt == "json":
        lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        assert lines[1]["header"] == "Bearer ***"
        assert lines[1]["job"] == "abc"
        assert "Traceback" in lines[-1]["exc"]


def test_a_record_with_bad_arguments_is_left_to_the_handler() -> None:
    record = logging.makeLogRecord({"msg": "%d items", "args": ("many",)})
    assert RedactingFilter().filter(record) is True
    assert record.msg == "%d items"
