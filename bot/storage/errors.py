"""Storage failures that stop the bot from starting (or from trusting its database)."""

from __future__ import annotations

from bot.errors import BotError


class StorageError(BotError):
    """The database or spool cannot be used as it is."""


class SchemaTooNew(StorageError):
    """The database was written by a newer comfycord: running an older one could corrupt it."""

    def __init__(self, path: str, found: int, known: int) -> None:
        self.found = found
        self.known = known
        super().__init__(
            f"The database {path} has schema version {found}, but this comfycord only knows up to "
            f"version {known}. Upgrade comfycord (or restore a backup made for this version); "
            "refusing to start so the data is not damaged."
        )


class MigrationFailed(StorageError):
    """A migration raised; it was rolled back and the database is at the previous version."""

    def __init__(self, version: int, name: str, reason: str) -> None:
        self.version = version
        super().__init__(
            f"Database migration {version:04d}_{name} failed and was rolled back: {reason}",
        )
