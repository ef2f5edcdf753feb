"""Final results of jobs (images, animations, videos, audio, texts), as written to the spool."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from bot.jobmodel.model import OutputRef
from bot.media.kinds import OutputKind
from bot.storage.database import Database

# Upsert: a job run again with the same seed rewrites the same indexes.
_UPSERT = """
INSERT INTO job_outputs (job_id, idx, path, sha256, mime, width, height, node_id, kind)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (job_id, idx) DO UPDATE SET
    path = excluded.path, sha256 = excluded.sha256, mime = excluded.mime,
    width = excluded.width, height = excluded.height, node_id = excluded.node_id, kind = excluded.kind
"""


class OutputRepository:
    """Stores and lists the outputs of each job."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, job_id: str, output: OutputRef) -> None:
        """Record one output (replacing an earlier one at the same index)."""
        await self.add_many(job_id, [output])

    async def add_many(self, job_id: str, outputs: Iterable[OutputRef]) -> None:
        """Record several outputs in one transaction."""
        await self._db.execute_many(
            _UPSERT,
            [
                (job_id, o.index, str(o.path), o.sha256, o.mime, o.width, o.height, o.node_id, o.kind.value)
                for o in outputs
            ],
        )

    async def list_for_job(self, job_id: str) -> list[OutputRef]:
        """A job's outputs in index order."""
        rows = await self._db.fetch_all("SELECT * FROM job_outputs WHERE job_id = ? ORDER BY idx", (job_id,))
        return [_output(row) for row in rows]

    async def clear(self, job_id: str) -> int:
        """Forget a job's outputs (before running it again after lost frames); returns how many."""
        return await self._db.execute("DELETE FROM job_outputs WHERE job_id = ?", (job_id,))


def _output(row: sqlite3.Row) -> OutputRef:
    return OutputRef(
        index=row["idx"],
        path=Path(row["path"]),
        sha256=row["sha256"],
        mime=row["mime"],
        width=row["width"],
        height=row["height"],
        node_id=row["node_id"],
        kind=_kind(row["kind"]),
    )


def _kind(value: object) -> OutputKind:
    try:
        return OutputKind(str(value))
    except ValueError:
        return OutputKind.IMAGE  # written by a newer version: show it as a file-like image at worst
