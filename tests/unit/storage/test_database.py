"""Database: pragmas, transactions, and forward-only migrations."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.storage import Database, MigrationFailed, SchemaTooNew, StorageError, load_migrations
from bot.storage.database import DATABASE_FILE
from bot.storage.migrate import Migration, check_sequence, split_statements

from .conftest import FakeClock

TABLES = {
    "jobs",
    "job_inputs",
    "job_outputs",
    "deliveries",
    "backend_clients",
    "guild_settings",
    "bans",
    "quota_usage",
    "audit_log",
    "meta",
    "schema_version",
}


async def _tables(db: Database) -> set[str]:
    rows = await db.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {row[0] for row in rows}


async def test_open_creates_the_file_and_every_table(db: Database, db_path: Path) -> None:
    assert db_path.is_file()
    assert await _tables(db) >= TABLES
    assert db.schema_version == load_migrations()[-1].version


async def test_pragmas_wal_foreign_keys_busy_timeout(db: Database) -> None:
    journal = await db.fetch_one("PRAGMA journal_mode")
    foreign_keys = await db.fetch_one("PRAGMA foreign_keys")
    busy = await db.fetch_one("PRAGMA busy_timeout")
    assert journal is not None
    assert journal[0] == "wal"
    assert foreign_keys is not None
    assert foreign_keys[0] == 1
    assert busy is not None
    assert busy[0] == 5000


async def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        await db.execute(
            "INSERT INTO job_outputs (job_id, idx, path, sha256, mime) VALUES ('NOPE0000', 0, 'p', 's', 'm')"
        )


async def test_open_in_uses_the_standard_file_name(tmp_path: Path) -> None:
    async with await Database.open_in(tmp_path) as db:
        assert db.path == tmp_path / DATABASE_FILE
    assert (tmp_path / DATABASE_FILE).is_file()


async def test_reopening_is_idempotent_and_keeps_data(db_path: Path, clock: FakeClock) -> None:
    async with await Database.open(db_path, clock=clock) as db:
        await db.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
        first = await db.fetch_all("SELECT version, name, applied_at FROM schema_version")
    clock.advance(60)
    async with await Database.open(db_path, clock=clock) as db:
        again = await db.fetch_all("SELECT version, name, applied_at FROM schema_version")
        kept = await db.fetch_one("SELECT value FROM meta WHERE key = 'k'")
    assert [tuple(r) for r in again] == [tuple(r) for r in first]
    assert kept is not None
    assert kept[0] == "v"


async def test_a_newer_database_refuses_to_start(db_path: Path) -> None:
    async with await Database.open(db_path) as db:
        await db.execute("INSERT INTO schema_version (version, name, applied_at) VALUES (999, 'future', 0)")
    with pytest.raises(SchemaTooNew) as caught:
        await Database.open(db_path)
    assert caught.value.found == 999
    assert "999" in caught.value.user_message
    assert "Upgrade comfycord" in caught.value.user_message


async def test_later_migrations_apply_on_reopen(db_path: Path) -> None:
    base = load_migrations()
    async with await Database.open(db_path, migrations=base) as db:
        assert db.schema_version == len(base)
    extra = Migration(len(base) + 1, "add_notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);")
    async with await Database.open(db_path, migrations=[*base, extra]) as db:
        assert db.schema_version == len(base) + 1
        assert "notes" in await _tables(db)


async def test_a_failing_migration_is_rolled_back_whole(db_path: Path) -> None:
    base = load_migrations()
    broken = Migration(
        len(base) + 1,
        "broken",
        "CREATE TABLE half_done (id INTEGER);\nINSERT INTO no_such_table VALUES (1);",
    )
    with pytest.raises(MigrationFailed) as caught:
        await Database.open(db_path, migrations=[*base, broken])
    assert caught.value.version == len(base) + 1
    async with await Database.open(db_path, migrations=base) as db:
        assert db.schema_version == len(base)
        assert "half_done" not in await _tables(db)


async def test_bundled_migrations_are_numbered_without_gaps() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "initial"


def test_gaps_in_migration_numbers_are_refused() -> None:
    with pytest.raises(StorageError, match="without gaps"):
        check_sequence([Migration(1, "a", ""), Migration(3, "c", "")])
    with pytest.raises(StorageError, match="without gaps"):
        check_sequence([Migration(1, "a", ""), Migration(1, "b", "")])


def test_split_statements_respects_strings_comments_and_triggers() -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE t (v TEXT DEFAULT 'a;b');
    CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET v = 'x;y'; END;
    INSERT INTO t (v) VALUES ('1'); INSERT INTO t (v) VALUES ('2');
    -- trailing comment
    """
    statements = list(split_statements(script))
    assert len(statements) == 4
    assert statements[1].startswith("CREATE TRIGGER")
    assert statements[1].endswith("END;")


def test_split_statements_refuses_an_unfinished_statement() -> None:
    with pytest.raises(StorageError, match="incomplete"):
        list(split_statements("CREATE TABLE t (v TEXT); CREATE TABLE u (v"))


async def test_transaction_commits_or_rolls_back(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO meta (key, value) VALUES ('kept', '1')")

    async def fails_halfway() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO meta (key, value) VALUES ('lost', '1')")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await fails_halfway()
    rows = await db.fetch_all("SELECT key FROM meta ORDER BY key")
    assert [r[0] for r in rows] == ["kept"]


async def test_nested_transaction_is_a_savepoint(db: Database) -> None:
    async def inner_fails() -> None:
        async with db.transaction() as inner:
            await inner.execute("INSERT INTO meta (key, value) VALUES ('inner', '1')")
            raise RuntimeError("boom")

    async with db.transaction() as conn:
        await conn.execute("INSERT INTO meta (key, value) VALUES ('outer', '1')")
        with pytest.raises(RuntimeError):
            await inner_fails()
        # The outer transaction goes on, with the inner block undone.
        await db.execute("INSERT INTO meta (key, value) VALUES ('after', '1')")
    rows = await db.fetch_all("SELECT key FROM meta ORDER BY key")
    assert [r[0] for r in rows] == ["after", "outer"]


async def test_other_tasks_wait_for_a_transaction(db: Database) -> None:
    inside = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO meta (key, value) VALUES ('k', 'uncommitted')")
            inside.set()
            await release.wait()
            await conn.execute("UPDATE meta SET value = 'committed' WHERE key = 'k'")

    task = asyncio.create_task(holder())
    await inside.wait()
    reader = asyncio.create_task(db.fetch_one("SELECT value FROM meta WHERE key = 'k'"))
    # One loop turn lets the reader reach its first await: without the lock it would now have its
    # SELECT queued on the connection ahead of the UPDATE, and read the uncommitted value.
    await asyncio.sleep(0)
    assert not reader.done()
    release.set()
    await task
    row = await reader
    assert row is not None
    assert row[0] == "committed"


async def test_cancelling_a_transaction_leaves_the_connection_usable(db: Database) -> None:
    started = asyncio.Event()

    async def doomed() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO meta (key, value) VALUES ('doomed', '1')")
            started.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(doomed())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await db.execute("INSERT INTO meta (key, value) VALUES ('next', '1')")
    rows = await db.fetch_all("SELECT key FROM meta")
    assert [r[0] for r in rows] == ["next"]
