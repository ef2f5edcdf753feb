"""Logging: human-readable text by default, JSON lines with LOG_FORMAT=json; credentials redacted."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

from bot.observability.logs import RedactingFilter

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line; extra fields (job=..., prompt_id=...) become keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = (
                    value if isinstance(value, (int, float, bool, str)) or value is None else str(value)
                )
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:  # set (and redacted) by RedactingFilter
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, fmt: str, *, secrets: Iterable[str] = ()) -> None:
    """Install one stderr handler on the root logger; ``secrets`` (and anything token-shaped) never print."""
    handler = logging.StreamHandler(sys.stderr)
    # On the handler, not the root logger: a logger's filters never see records from its children.
    handler.addFilter(RedactingFilter(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # discord.py's HTTP client logs request routes at DEBUG; keep them at INFO unless asked.
    logging.getLogger("discord.http").setLevel(max(logging.INFO, logging.getLevelName(level)))
