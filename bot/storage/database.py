"""The SQLite database: one aiosqlite connection, WAL, migrations, and serialised transactions."""

from __future__ import annotations

import asyncio
import itertools
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiosqlite

from bot.storage.errors import MigrationFailed, SchemaTooNew, StorageError
from bot.storage.migrate import Migration, check_sequence, load_migrations, split_statements

log = logging.getLogger(__name__)

DATABASE_FILE = "comfycord.sqlite3"

# Positional (``?``) or named (``:name``) parameters.
Params = Sequence[Any] | Mapping[str, Any]
Clock = Callable[[], float]


class Database:
    """The bot's SQLite database; create it with ``await Database.open(path)``.

    Every statement goes through one connection, and one task at a time holds it: a transaction
    spans several awaits, and another coroutine's statement slipping in between would join it.
    A task that already holds the connection nests (a SAVEPOINT) instead of waiting for itself.
    """

    def __init__(self, conn: aiosqlite.Connection, path: Path, clock: Clock) -> None:
        self._conn = conn
        self.path = path
        self.clock = clock
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._savepoints = itertools.count(1)
        self._schema_version = 0

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        clock: Clock = time.time,
        migrations: Sequence[Migration] | None = None,
        busy_timeout: float = 5.0,
    ) -> Database:
        """Open (creating if needed) and migrate the database at ``path``.

        Raises SchemaTooNew if the file was written by a newer comfycord, MigrationFailed if a
        migration broke (it is rolled back).
        """
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves rather than let sqlite3 guess.
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        db = cls(conn, path, clock)
        try:
            await db._configure(busy_timeout)
            await db._migrate(load_migrations() if migrations is None else check_sequence(migrations))
        except BaseException:
            await conn.close()
            raise
        return db

    @classmethod
    async def open_in(cls, data_dir: Path, *, clock: Clock = time.time) -> Database:
        """Open ``DATA_DIR/comfycord.sqlite3``."""
        return await cls.open(data_dir / DATABASE_FILE, clock=clock)

    @property
    def schema_version(self) -> int:
        """The migration version the database is at."""
        return self._schema_version

    async def close(self) -> None:
        """Wait for whoever holds the connection, then close it."""
        async with self._lock:
            await self._conn.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- access ----------------------------------------------------------------------------------

    @asynccontextmanager
    async def _hold(self) -> AsyncIterator[bool]:
        """Hold the connection for this task; yields True if it was already held (nested)."""
        task = asyncio.current_task()
        if task is not None and self._owner is task:
            yield True
            return
        async with self._lock:
            self._owner = task
            try:
                yield False
            finally:
                self._owner = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run the block atomically: commit on success, roll back on any exception.

        BEGIN IMMEDIATE takes the write lock up front, so a read-check-write inside the block cannot
        be overtaken by another connection (the CLI may open the same file). Nested blocks in the
        same task become savepoints.
        """
        async with self._hold() as nested:
            if nested:
                name = f"sp{next(self._savepoints)}"
                await self._conn.execute(f"SAVEPOINT {name}")
                try:
                    yield self._conn
                except BaseException:
                    await self._conn.execute(f"ROLLBACK TO {name}")
                    await self._conn.execute(f"RELEASE {name}")
                    raise
                await self._conn.execute(f"RELEASE {name}")
                return
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
                yield self._conn
            except BaseException:
                # rollback() is a no-op without an open transaction, and it is queued behind a BEGIN
                # that still runs after a cancelled await: the connection is never left mid-transaction.
                await self._conn.rollback()
                raise
            await self._conn.commit()

    async def fetch_one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """The first row of a query, or None."""
        async with self._hold(), self._conn.execute(sql, params) as cursor:
            row: sqlite3.Row | None = await cursor.fetchone()
            return row

    async def fetch_all(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Every row of a query."""
        async with self._hold():
            rows = await self._conn.execute_fetchall(sql, params)
            return list(rows)

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write statement in a transaction; returns the number of rows it changed."""
        async with self.transaction() as conn, conn.execute(sql, params) as cursor:
            return cursor.rowcount

    async def execute_many(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one write statement for each of ``rows``, all in one transaction."""
        async with self.transaction() as conn:
            await conn.executemany(sql, rows)

    async def truncate_wal(self) -> None:
        """Copy the write-ahead log into the database and empty it, so what a deleted row held is no
        longer on disk anywhere (best effort: another process reading at that moment keeps it)."""
        async with self._hold(), self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cursor:
            row = await cursor.fetchone()
        if row is not None and row[0]:
            log.debug("database %s: the write-ahead log is in use and was not emptied", self.path)

    # --- setup -----------------------------------------------------------------------------------

    async def _configure(self, busy_timeout: float) -> None:
        # busy_timeout first, so that switching to WAL waits for another process instead of failing.
        await self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        async with self._conn.execute("PRAGMA journal_mode = WAL") as cursor:
            row = await cursor.fetchone()
        mode = str(row[0]) if row else "?"
        if mode.lower() != "wal":
            log.warning("database %s is in %s journal mode, not WAL", self.path, mode)
        # NORMAL is durable in WAL mode except for the last commits on power loss, never corrupting.
        await self._conn.execute("PRAGMA synchronous = NORMAL")
        await self._conn.execute("PRAGMA foreign_keys = ON")
        # Deleted rows (interaction tokens) are overwritten with zeros, not left in free pages.
        await self._conn.execute("PRAGMA secure_delete = ON")

    async def _read_version(self) -> int:
        row = await self.fetch_one("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        return int(row[0]) if row else 0

    async def _migrate(self, migrations: Sequence[Migration]) -> None:
        await self.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
        )
        known = migrations[-1].version if migrations else 0
        found = await self._read_version()
        if found > known:
            raise SchemaTooNew(str(self.path), found, known)
        # Foreign keys off while migrating: SQLite's recipe for table rebuilds needs it, and it
        # cannot be switched inside a transaction. foreign_key_check below keeps us honest.
        await self._conn.execute("PRAGMA foreign_keys = OFF")
        try:
            for migration in migrations:
                if migration.version > found:
                    await self._apply(migration)
        finally:
            await self._conn.execute("PRAGMA foreign_keys = ON")
        self._schema_version = await self._read_version()

    async def _apply(self, migration: Migration) -> None:
        try:
            async with self.transaction() as conn:
                # Re-read under the write lock: another process may have migrated in the meantime.
                if await self._read_version() >= migration.version:
                    return
                for statement in split_statements(migration.sql):
                    await conn.execute(statement)
                async with conn.execute("PRAGMA foreign_key_check") as cursor:
                    broken = await cursor.fetchone()
                if broken is not None:
                    raise StorageError(f"foreign key violation in table {broken[0]}")
                await conn.execute(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, self.clock()),
                )
        except (sqlite3.Error, StorageError) as exc:
            raise MigrationFailed(migration.version, migration.name, str(exc)) from exc
        log.info("database migrated to version %d (%s)", migration.version, migration.name)
