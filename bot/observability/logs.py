"""Redaction of credentials from log output: Discord tokens, interaction tokens, Authorization values,
configured secrets.

``Secret`` keeps our own values out of reprs, but a token can still reach a log line through a
library's exception text, a request repr or a pasted URL. The filter rewrites every record that
reaches a handler, so no formatter ever sees the value.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Final

from bot.config import Settings

MASK: Final = "***"

MIN_SECRET_LENGTH: Final = 4
"""Configured secrets shorter than this are not searched for (they would mangle ordinary words)."""

# A bot token: base64 of the application id (17-20 digits -> 23-27 characters, a little room for
# longer ids), a 6-7 character timestamp, and an HMAC of 27 characters or more.
_TOKEN: Final = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{23,32}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}")
# An Authorization header's value, however it is printed: "Authorization: Bot x", {'Authorization': 'x'}.
_HEADER: Final = re.compile(
    r"""(?ix)
    (authorization \\?["']? \s* [:=] \s* \\?["']?)   # the header name and separator
    ([^"'\\,}\r\n]+)                                  # its value, up to a quote, comma, brace or line end
    """
)
# A credential after an auth scheme, wherever it appears; plain lowercase words ("basic checks")
# are left alone because a credential always has a digit, a capital or a symbol in it.
_SCHEME: Final = re.compile(
    r"\b((?i:bearer|basic))(\s+)"  # the scheme, any case
    r"(?![a-z]+(?![A-Za-z0-9._~+/=-]))"  # not a plain lowercase word
    r"([A-Za-z0-9._~+/=-]{6,})"  # the credential
)

# An interaction token wherever it is printed. discord.py's DEBUG logs show it in webhook and callback
# URLs ("/webhooks/<app id>/<token>/messages/@original", "/interactions/<id>/<token>/callback") and in
# every INTERACTION_CREATE payload ({'token': '...'}); on its own it is base64 of "interaction:...".
_ROUTE_TOKEN: Final = re.compile(r"(/(?:webhooks|interactions)/[0-9]+/)([^/?#\s'\"]+)")
_TOKEN_FIELD: Final = re.compile(r"""(\\?["']token\\?["']\s*:\s*\\?["'])([^"'\\]+)""")
_INTERACTION_TOKEN: Final = re.compile(r"aW50ZXJhY3Rpb246[A-Za-z0-9_=-]+")

_STANDARD: Final = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every token-shaped string, interaction token, Authorization value and given secret
    replaced by ***."""
    for secret in secrets:
        if len(secret) >= MIN_SECRET_LENGTH:
            text = text.replace(secret, MASK)
    text = _ROUTE_TOKEN.sub(lambda m: m.group(1) + MASK, text)
    text = _TOKEN_FIELD.sub(lambda m: m.group(1) + MASK, text)
    text = _INTERACTION_TOKEN.sub(MASK, text)
    text = _HEADER.sub(lambda m: m.group(1) + MASK, text)
    text = _SCHEME.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
    return _TOKEN.sub(MASK, text)


def secrets_of(settings: Settings) -> tuple[str, ...]:
    """The configured secret values (the bot token, each backend's credential), longest first."""
    values = [settings.discord_token.reveal()]
    values += [endpoint.auth.value.reveal() for endpoint in settings.backends]
    return tuple(sorted({v for v in values if v}, key=len, reverse=True))


class RedactingFilter(logging.Filter):
    """Rewrites a record's message, exception text, stack and extra string fields through ``redact``.

    Install it on handlers (not loggers): a logger's filters do not see records from child loggers.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))
        self._exceptions = logging.Formatter()

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # Bad %-arguments: leave the record alone, the handler reports it through handleError.
            return True
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._exceptions.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True
