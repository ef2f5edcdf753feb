"""Numbered, forward-only schema migrations read from ``bot/storage/migrations/NNNN_name.sql``."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources

from bot.storage.errors import StorageError

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step; ``version`` numbers start at 1 and have no gaps."""

    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """The bundled migrations in order; raises StorageError if the set is malformed."""
    folder = resources.files("bot.storage").joinpath("migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None:
            if entry.name.endswith(".sql"):
                raise StorageError(f"migration file {entry.name} must be named NNNN_name.sql")
            continue
        found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    return check_sequence(found)


def check_sequence(migrations: Sequence[Migration]) -> list[Migration]:
    """Sort ``migrations`` and insist on versions 1, 2, 3, ... with nothing missing or doubled."""
    ordered = sorted(migrations, key=lambda m: m.version)
    versions = [m.version for m in ordered]
    if versions != list(range(1, len(ordered) + 1)):
        raise StorageError(f"migration versions must run 1, 2, 3, ... without gaps, found {versions}")
    return ordered


def split_statements(script: str) -> Iterator[str]:
    """Cut a script into single statements (``;`` inside strings and triggers is handled by SQLite).

    The migration runner executes statement by statement inside its own transaction, because
    ``executescript`` would commit whatever transaction is open first.
    """
    pieces = script.split(";")
    buffer = ""
    for piece in pieces[:-1]:
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if _has_code(buffer):
                yield buffer.strip()
            buffer = ""
    leftover = buffer + pieces[-1]
    if _has_code(leftover):
        raise StorageError(f"migration ends with an incomplete statement: {leftover.strip()[:80]!r}")


def _has_code(text: str) -> bool:
    for line in text.splitlines():
        stripped = line.split("--", 1)[0].strip().strip(";").strip()
        if stripped:
            return True
    return False
