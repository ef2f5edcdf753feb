"""Database faults at a chosen statement: make it fail, or hold it until the test lets it through.

``faults = DbFaults.install(db)`` puts a thin proxy in front of the Database's one aiosqlite
connection. ``faults.fail(when)`` makes the next statement matching ``when(sql, params)`` raise
(``sqlite3.OperationalError("database is locked")`` unless told otherwise); ``faults.hold(when)``
makes it wait until ``release()``. Helpers build the usual predicates, e.g. ``moving_to("dispatched")``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.storage import Database

Predicate = Callable[[str, Any], bool]


def moving_to(state: str) -> Predicate:
    """The UPDATE that moves a job to ``state`` (JobRepository.transition)."""
    return lambda sql, params: sql.lstrip().startswith("UPDATE jobs") and _get(params, "state") == state


def statement(fragment: str) -> Predicate:
    """Any statement containing ``fragment``."""
    return lambda sql, params: fragment in sql


def _get(params: Any, key: str) -> Any:
    return params.get(key) if isinstance(params, Mapping) else None


@dataclass(eq=False)
class Fault:
    when: Predicate
    times: int
    error: Callable[[], BaseException] | None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    hits: int = 0

    def release(self) -> None:
        self.released.set()


class _Call:
    """What ``conn.execute(...)`` returns: awaitable and an async context manager, like aiosqlite's."""

    def __init__(self, fault: Fault | None, run: Callable[[], Any]) -> None:
        self._fault = fault
        self._run = run
        self._inner: Any = None

    async def _start(self) -> Any:
        fault = self._fault
        if fault is not None:
            fault.arrived.set()
            if fault.error is not None:
                raise fault.error()
            await fault.released.wait()
        self._inner = self._run()
        return self._inner

    def __await__(self) -> Any:
        return self._awaited().__await__()

    async def _awaited(self) -> Any:
        return await (await self._start())

    async def __aenter__(self) -> Any:
        return await (await self._start()).__aenter__()

    async def __aexit__(self, *exc: object) -> Any:
        return await self._inner.__aexit__(*exc)


class _Connection:
    def __init__(self, real: Any, faults: DbFaults) -> None:
        self._real = real
        self._faults = faults

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def execute(self, sql: str, params: Any = ()) -> _Call:
        return _Call(self._faults.match(sql, params), lambda: self._real.execute(sql, params))

    def executemany(self, sql: str, rows: Sequence[Any]) -> _Call:
        return _Call(self._faults.match(sql, None), lambda: self._real.executemany(sql, rows))

    def execute_fetchall(self, sql: str, params: Any = ()) -> _Call:
        return _Call(self._faults.match(sql, params), lambda: self._real.execute_fetchall(sql, params))


class DbFaults:
    """The faults armed on one Database."""

    def __init__(self) -> None:
        self.armed: list[Fault] = []

    @classmethod
    def install(cls, db: Database) -> DbFaults:
        faults = cls()
        db._conn = _Connection(db._conn, faults)  # type: ignore[assignment]
        return faults

    def fail(
        self,
        when: Predicate,
        *,
        times: int = 1,
        error: Callable[[], BaseException] = lambda: sqlite3.OperationalError("database is locked"),
    ) -> Fault:
        fault = Fault(when, times, error)
        self.armed.append(fault)
        return fault

    def hold(self, when: Predicate) -> Fault:
        fault = Fault(when, 1, None)
        self.armed.append(fault)
        return fault

    def match(self, sql: str, params: Any) -> Fault | None:
        for fault in self.armed:
            if fault.when(sql, params):
                fault.hits += 1
                if fault.hits >= fault.times:
                    self.armed.remove(fault)
                return fault
        return None
