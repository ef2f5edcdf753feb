"""Jobs in the database: inserts, lookups and atomic, state-checked transitions."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Unpack

import aiosqlite

from bot.errors import JobNotFound
from bot.jobmodel.ids import new_job_id, normalize_job_id
from bot.jobmodel.model import InputRef, Job, JobChanges, MessageRef, advance, revise
from bot.jobmodel.states import NOTICE_STATES, OPEN_STATES, TERMINAL_STATES, IllegalTransition, JobState
from bot.storage.database import Database
from bot.storage.deliveries import DeliveryKind
from bot.storage.errors import StorageError

# Lists of states or ids travel as one JSON parameter (`IN (SELECT value FROM json_each(?))`), so
# every statement below is a constant string. LIMIT -1 means no limit in SQLite.

_INSERT_JOB = """
INSERT INTO jobs (id, guild_id, channel_id, user_id, template, params, state, lane, backend, prompt_id,
                  attempts, failure_reason, created_at, updated_at, started_at, finished_at,
                  status_channel_id, status_message_id, notice, age_restricted, template_version)
VALUES (:id, :guild_id, :channel_id, :user_id, :template, :params, :state, :lane, :backend, :prompt_id,
        :attempts, :failure_reason, :created_at, :updated_at, :started_at, :finished_at,
        :status_channel_id, :status_message_id, :notice, :age_restricted, :template_version)
"""
_INSERT_INPUT = """
INSERT INTO job_inputs (job_id, position, param, path, sha256, filename) VALUES (?, ?, ?, ?, ?, ?)
"""
# Identity, request and creation time never change. The state in the WHERE clause is a second
# guard, against writers on other connections.
_UPDATE_JOB = """
UPDATE jobs SET state = :state, lane = :lane, backend = :backend, prompt_id = :prompt_id,
                attempts = :attempts, failure_reason = :failure_reason, updated_at = :updated_at,
                started_at = :started_at, finished_at = :finished_at,
                status_channel_id = :status_channel_id, status_message_id = :status_message_id,
                notice = :notice
WHERE id = :id AND state = :previous_state
"""
_BY_ID = "SELECT * FROM jobs WHERE id = ? LIMIT ?"
_BY_STATE = """
SELECT * FROM jobs WHERE state IN (SELECT value FROM json_each(?)) ORDER BY created_at, seq LIMIT ?
"""
_BY_USER = "SELECT * FROM jobs WHERE user_id = ? ORDER BY created_at, seq LIMIT ?"
_BY_USER_AND_STATE = """
SELECT * FROM jobs WHERE user_id = ? AND state IN (SELECT value FROM json_each(?))
ORDER BY created_at, seq LIMIT ?
"""
_RECENT_FOR_USER = "SELECT * FROM jobs WHERE user_id = ? ORDER BY created_at DESC, seq DESC LIMIT ?"
_UNNOTIFIED = """
SELECT * FROM jobs
WHERE state IN (SELECT value FROM json_each(?))
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.job_id = jobs.id AND d.kind = ?)
ORDER BY created_at, seq LIMIT ?
"""
_FOR_GUILD = """
SELECT * FROM jobs WHERE guild_id = ? AND (? IS NULL OR user_id = ?)
  AND state IN (SELECT value FROM json_each(?))
ORDER BY created_at DESC, seq DESC LIMIT ?
"""
_COUNT_BY_STATE = "SELECT state, COUNT(*) FROM jobs GROUP BY state"
_COUNT_BY_STATE_FOR_GUILD = "SELECT state, COUNT(*) FROM jobs WHERE guild_id = ? GROUP BY state"
_COUNT_IN_STATES = "SELECT COUNT(*) FROM jobs WHERE state IN (SELECT value FROM json_each(?))"
_COUNT_IN_STATES_FOR_USER = """
SELECT COUNT(*) FROM jobs WHERE state IN (SELECT value FROM json_each(?)) AND user_id = ?
"""
_OPEN_IN_GUILD = """
SELECT COUNT(*) FROM jobs
WHERE guild_id IS ? AND user_id = ? AND state IN (SELECT value FROM json_each(?))
"""
_LAST_IN_GUILD = "SELECT MAX(created_at) FROM jobs WHERE guild_id IS ? AND user_id = ?"
_CHANNELS_SINCE = "SELECT DISTINCT channel_id FROM jobs WHERE created_at >= ?"
_ENDED_BEFORE = """
SELECT id FROM jobs WHERE state IN (SELECT value FROM json_each(?)) AND updated_at < ?
ORDER BY created_at, seq
"""
_INPUTS_OF = """
SELECT * FROM job_inputs WHERE job_id IN (SELECT value FROM json_each(?)) ORDER BY job_id, position
"""


@dataclass(frozen=True, slots=True)
class MemberActivity:
    """What the queue limit and the cooldown look at for one member of one server."""

    open_jobs: int
    last_job_at: float | None


class JobRepository:
    """Reads and writes jobs; every state change is checked against the table and the stored state."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def new_id(self) -> str:
        """A short id no stored job uses yet (the UNIQUE constraint still guards the insert)."""
        while True:
            candidate = new_job_id()
            if await self._db.fetch_one(_BY_ID, (candidate, 1)) is None:
                return candidate

    async def insert(self, job: Job, *, request_id: str | None = None) -> Job:
        """Store a new job and its inputs in one transaction; ``request_id`` makes a retry find it."""
        try:
            async with self._db.transaction() as conn:
                await conn.execute(_INSERT_JOB, _columns(job))
                if request_id is not None:
                    await conn.execute(
                        "INSERT INTO job_requests (request_id, job_id) VALUES (?, ?)", (request_id, job.id)
                    )
                await conn.executemany(
                    _INSERT_INPUT,
                    [
                        (job.id, position, ref.param, str(ref.path), ref.sha256, ref.filename)
                        for position, ref in enumerate(job.inputs)
                    ],
                )
        except sqlite3.IntegrityError as exc:
            raise StorageError(f"a job with id {job.id} already exists") from exc
        return job

    async def get_by_request(self, request_id: str) -> Job | None:
        """The job a request (an interaction id) already created, if any."""
        row = await self._db.fetch_one("SELECT job_id FROM job_requests WHERE request_id = ?", (request_id,))
        return await self.get(str(row[0])) if row else None

    async def get(self, job_id: str) -> Job | None:
        """The job with that id (in any spelling a member might type), or None."""
        canonical = normalize_job_id(job_id)
        if canonical is None:
            return None
        jobs = await self._select(_BY_ID, (canonical, 1))
        return jobs[0] if jobs else None

    async def require(self, job_id: str) -> Job:
        """Like ``get`` but raises JobNotFound."""
        job = await self.get(job_id)
        if job is None:
            raise JobNotFound("No job with that id.", detail=f"job={job_id} not found")
        return job

    async def transition(
        self,
        job_id: str,
        from_states: JobState | Iterable[JobState],
        to_state: JobState,
        **changes: Unpack[JobChanges],
    ) -> Job:
        """Atomically move a job to ``to_state`` if it is currently in ``from_states``.

        Raises IllegalTransition when the stored state is not one of ``from_states`` (someone else
        moved it first) or the table forbids the move; nothing is written then.
        """
        async with self._db.transaction() as conn:
            current = await self.require(job_id)
            updated = advance(
                current, to_state, now=self._db.clock(), expected=_state_set(from_states), **changes
            )
            await _write(conn, current, updated)
        return updated

    async def update(
        self,
        job_id: str,
        *,
        expected: JobState | Iterable[JobState] | None = None,
        **changes: Unpack[JobChanges],
    ) -> Job:
        """Change bookkeeping fields without moving the state, optionally only in ``expected`` states."""
        async with self._db.transaction() as conn:
            current = await self.require(job_id)
            if expected is not None:
                allowed = _state_set(expected)
                if current.state not in allowed:
                    raise IllegalTransition(current.id, current.state, current.state, allowed)
            updated = revise(current, now=self._db.clock(), **changes)
            await _write(conn, current, updated)
        return updated

    async def channels_since(self, since: float) -> set[int]:
        """Channels of the jobs created since ``since`` (a UNIX time)."""
        return {int(row[0]) for row in await self._db.fetch_all(_CHANNELS_SINCE, (since,))}

    async def list_by_state(self, *states: JobState, limit: int = -1) -> list[Job]:
        """Jobs in any of ``states``, oldest first (QUEUED jobs come back in their queue order)."""
        return await self._select(_BY_STATE, (_json_states(states), limit))

    async def list_by_user(
        self, user_id: int, *, states: Iterable[JobState] | None = None, limit: int = -1
    ) -> list[Job]:
        """One member's jobs, oldest first, optionally only those in ``states``."""
        if states is None:
            return await self._select(_BY_USER, (user_id, limit))
        return await self._select(_BY_USER_AND_STATE, (user_id, _json_states(states), limit))

    async def recent_for_user(self, user_id: int, *, limit: int = 10) -> list[Job]:
        """One member's latest jobs, newest first."""
        return await self._select(_RECENT_FOR_USER, (user_id, limit))

    async def count_waiting(
        self, *, user_id: int | None = None, states: Iterable[JobState] = OPEN_STATES
    ) -> int:
        """Jobs still on their way to a result, all or one member's: what the queue limits count."""
        if user_id is None:
            row = await self._db.fetch_one(_COUNT_IN_STATES, (_json_states(states),))
        else:
            row = await self._db.fetch_one(_COUNT_IN_STATES_FOR_USER, (_json_states(states), user_id))
        return int(row[0]) if row else 0

    async def member_activity(self, guild_id: int | None, user_id: int) -> MemberActivity:
        """How many of a member's jobs in one server are still open, and when they last asked for one."""
        row = await self._db.fetch_one(_OPEN_IN_GUILD, (guild_id, user_id, _json_states(OPEN_STATES)))
        last = await self._db.fetch_one(_LAST_IN_GUILD, (guild_id, user_id))
        return MemberActivity(
            open_jobs=int(row[0]) if row else 0,
            last_job_at=None if last is None or last[0] is None else float(last[0]),
        )

    async def list_for_guild(
        self,
        guild_id: int,
        *,
        states: Iterable[JobState] = OPEN_STATES,
        user_id: int | None = None,
        limit: int = -1,
    ) -> list[Job]:
        """One guild's jobs in ``states`` (optionally one member's), newest first."""
        return await self._select(_FOR_GUILD, (guild_id, user_id, user_id, _json_states(states), limit))

    async def count_by_state(self, *, guild_id: int | None = None) -> dict[JobState, int]:
        """How many jobs are in each state, everywhere or in one guild (states with none are left out)."""
        if guild_id is None:
            rows = await self._db.fetch_all(_COUNT_BY_STATE)
        else:
            rows = await self._db.fetch_all(_COUNT_BY_STATE_FOR_GUILD, (guild_id,))
        return {JobState(row[0]): int(row[1]) for row in rows}

    async def list_unnotified(self, *, limit: int = -1) -> list[Job]:
        """Jobs that ended without results whose final status has not reached the user yet."""
        return await self._select(
            _UNNOTIFIED, (_json_states(NOTICE_STATES), DeliveryKind.STATUS.value, limit)
        )

    async def ended_before(self, cutoff: float) -> list[str]:
        """Ids of jobs terminal since before ``cutoff``: their spooled files may be removed."""
        rows = await self._db.fetch_all(_ENDED_BEFORE, (_json_states(TERMINAL_STATES), cutoff))
        return [row[0] for row in rows]

    async def _select(self, sql: str, params: Sequence[Any]) -> list[Job]:
        rows = await self._db.fetch_all(sql, params)
        if not rows:
            return []
        input_rows = await self._db.fetch_all(_INPUTS_OF, (json.dumps([row["id"] for row in rows]),))
        inputs: dict[str, list[InputRef]] = {}
        for row in input_rows:
            ref = InputRef(row["param"], Path(row["path"]), row["sha256"], row["filename"])
            inputs.setdefault(row["job_id"], []).append(ref)
        return [_job(row, tuple(inputs.get(row["id"], ()))) for row in rows]


async def _write(conn: aiosqlite.Connection, before: Job, after: Job) -> None:
    async with conn.execute(_UPDATE_JOB, {**_columns(after), "previous_state": before.state.value}) as cur:
        if cur.rowcount != 1:
            raise IllegalTransition(after.id, before.state, after.state, {before.state})


def _state_set(states: JobState | Iterable[JobState]) -> frozenset[JobState]:
    return frozenset({states}) if isinstance(states, JobState) else frozenset(states)


def _json_states(states: Iterable[JobState]) -> str:
    return json.dumps(sorted(JobState(s).value for s in states))


def _columns(job: Job) -> dict[str, Any]:
    """Every column of a job row, by name."""
    status = job.status_message
    return {
        "id": job.id,
        "guild_id": job.guild_id,
        "channel_id": job.channel_id,
        "user_id": job.user_id,
        "template": job.template,
        "params": json.dumps(dict(job.params)),
        "state": job.state.value,
        "lane": job.lane,
        "backend": job.backend,
        "prompt_id": job.prompt_id,
        "attempts": job.attempts,
        "failure_reason": job.failure_reason,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "status_channel_id": status.channel_id if status else None,
        "status_message_id": status.message_id if status else None,
        "notice": job.notice,
        "age_restricted": job.age_restricted,
        "template_version": job.template_version,
    }


def _job(row: sqlite3.Row, inputs: tuple[InputRef, ...]) -> Job:
    try:
        state = JobState(row["state"])
    except ValueError as exc:
        raise StorageError(f"job {row['id']} has an unknown state {row['state']!r}") from exc
    status = None
    if row["status_channel_id"] is not None:
        status = MessageRef(row["status_channel_id"], row["status_message_id"])
    return Job(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        user_id=row["user_id"],
        template=row["template"],
        params=json.loads(row["params"]),
        state=state,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        inputs=inputs,
        lane=row["lane"],
        backend=row["backend"],
        prompt_id=row["prompt_id"],
        attempts=row["attempts"],
        failure_reason=row["failure_reason"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        status_message=status,
        notice=row["notice"],
        age_restricted=None if row["age_restricted"] is None else bool(row["age_restricted"]),
        template_version=row["template_version"],
    )
