"""Every version of every template the bot loaded, and the roles allowed to manage templates.

A version is the text of a template's files as they were read. Keeping them lets a job finish with
the graph it was validated against after the template was edited (even across a restart), and lets
an owner put an older version back (``/template restore``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.jobmodel.states import OPEN_STATES
from bot.storage.database import Database

_INSERT = """
INSERT INTO template_versions (name, version, stem, workflow, manifest, created_at, created_by)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (name, version) DO NOTHING
"""
_GET = "SELECT * FROM template_versions WHERE name = ? AND version = ?"
_HISTORY = "SELECT * FROM template_versions WHERE name = ? ORDER BY created_at DESC, rowid DESC LIMIT ?"
_LATEST_OF_STEM = """
SELECT * FROM template_versions WHERE stem = ? ORDER BY created_at DESC, rowid DESC LIMIT 1
"""
_IN_USE = """
SELECT DISTINCT template, template_version FROM jobs
WHERE template_version IS NOT NULL AND state IN (SELECT value FROM json_each(?))
"""
_NAMES = "SELECT DISTINCT name FROM template_versions"
_DELETE = "DELETE FROM template_versions WHERE name = ? AND version = ?"


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """One version of a template's files."""

    name: str
    version: str
    stem: str
    workflow: str = field(repr=False)
    manifest: str | None = field(repr=False)
    created_at: float
    created_by: int | None = None


class TemplateVersionRepository:
    """Records template versions, reads them back, and prunes the ones nothing needs any more."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        name: str,
        version: str,
        stem: str,
        workflow: str,
        manifest: str | None,
        *,
        created_by: int | None = None,
    ) -> bool:
        """Store a version unless it is stored already; True if it was new."""
        changed = await self._db.execute(
            _INSERT, (name, version, stem, workflow, manifest, self._db.clock(), created_by)
        )
        return changed > 0

    async def get(self, name: str, version: str) -> StoredVersion | None:
        """One version of one template, or None."""
        row = await self._db.fetch_one(_GET, (name, version))
        return _stored(row) if row else None

    async def history(self, name: str, *, limit: int = 25) -> list[StoredVersion]:
        """A template's versions, newest first."""
        return [_stored(row) for row in await self._db.fetch_all(_HISTORY, (name, limit))]

    async def latest_of_stem(self, stem: str) -> StoredVersion | None:
        """The newest version read from files named ``stem`` (for a file that is broken at start)."""
        row = await self._db.fetch_one(_LATEST_OF_STEM, (stem,))
        return _stored(row) if row else None

    async def in_use(self) -> set[tuple[str, str]]:
        """(template, version) of every job that is still on its way to a result."""
        states = json.dumps(sorted(s.value for s in OPEN_STATES))
        return {(str(row[0]), str(row[1])) for row in await self._db.fetch_all(_IN_USE, (states,))}

    async def prune(self, *, keep: int, also_keep: Iterable[tuple[str, str]] = ()) -> int:
        """Forget all but the newest ``keep`` versions of each template; versions of open jobs and
        ``also_keep`` (the ones loaded now) stay. Returns how many went."""
        protected = await self.in_use() | set(also_keep)
        removed = 0
        async with self._db.transaction() as conn:
            for (name,) in await conn.execute_fetchall(_NAMES):
                rows = await conn.execute_fetchall(_HISTORY, (name, -1))
                for row in list(rows)[keep:]:
                    if (name, row["version"]) in protected:
                        continue
                    await conn.execute(_DELETE, (name, row["version"]))
                    removed += 1
        return removed


class TemplateManagerRepository:
    """The roles an owner allowed to manage templates, per server."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def roles(self, guild_id: int) -> frozenset[int]:
        """The roles of ``guild_id`` whose members may manage templates."""
        rows = await self._db.fetch_all(
            "SELECT role_id FROM template_managers WHERE guild_id = ?", (guild_id,)
        )
        return frozenset(int(row[0]) for row in rows)

    async def allow(self, guild_id: int, role_id: int, *, granted_by: int) -> bool:
        """Let ``role_id`` manage templates; False if it already could."""
        changed = await self._db.execute(
            "INSERT INTO template_managers (guild_id, role_id, granted_by, granted_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (guild_id, role_id) DO NOTHING",
            (guild_id, role_id, granted_by, self._db.clock()),
        )
        return changed > 0

    async def disallow(self, guild_id: int, role_id: int) -> bool:
        """Stop ``role_id`` managing templates; False if it could not anyway."""
        changed = await self._db.execute(
            "DELETE FROM template_managers WHERE guild_id = ? AND role_id = ?", (guild_id, role_id)
        )
        return changed > 0


def _stored(row: sqlite3.Row) -> StoredVersion:
    return StoredVersion(
        name=row["name"],
        version=row["version"],
        stem=row["stem"],
        workflow=row["workflow"],
        manifest=row["manifest"],
        created_at=row["created_at"],
        created_by=row["created_by"],
    )
