"""Job files on disk: attached inputs and final outputs, written atomically, removed after retention.

Layout: ``<root>/<JOB_ID>/in/<name>`` and ``<root>/<JOB_ID>/out/<index>.<ext>``. Every write goes to a
``.tmp-*`` file first, is fsynced, then renamed over the target, so a crash leaves either the old
file, the new file, or a temp file that ``cleanup`` removes later, never half an image.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from bot.jobmodel.ids import normalize_job_id
from bot.storage.errors import StorageError

SPOOL_DIR = "spool"
_TEMP_PREFIX = ".tmp-"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSION = re.compile(r"^[a-z0-9]{1,8}$")
_MAX_NAME = 100


@dataclass(frozen=True, slots=True)
class SpooledFile:
    """A file safely on disk, with the digest of its bytes."""

    path: Path
    sha256: str
    size: int


class Spool:
    """The folder holding every job's files; all file I/O runs in a worker thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._sweeping = asyncio.Lock()  # two sweeps at once would delete the same folders

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> Spool:
        """The spool at ``DATA_DIR/spool``."""
        return cls(data_dir / SPOOL_DIR)

    def job_dir(self, job_id: str) -> Path:
        """The folder of one job; only canonical job ids are accepted, so no path can escape."""
        if normalize_job_id(job_id) != job_id:
            raise StorageError(f"not a job id: {job_id!r}")
        return self.root / job_id

    async def put_input(self, job_id: str, name: str, data: bytes) -> SpooledFile:
        """Store an attached file under a sanitised form of ``name`` (same name: replaced)."""
        return await asyncio.to_thread(self._write, self.job_dir(job_id) / "in" / safe_name(name), data)

    async def put_output(self, job_id: str, index: int, data: bytes, ext: str) -> SpooledFile:
        """Store the ``index``-th final output of a job, e.g. ``out/000.png``."""
        if index < 0:
            raise ValueError(f"output index must be >= 0, got {index}")
        ext = ext.lower().lstrip(".")
        if not _EXTENSION.match(ext):
            raise ValueError(f"unsafe file extension {ext!r}")
        return await asyncio.to_thread(self._write, self.job_dir(job_id) / "out" / f"{index:03d}.{ext}", data)

    async def read(self, path: Path) -> bytes:
        """The bytes of a spooled file (refuses paths outside the spool)."""
        return await asyncio.to_thread(self._read, path)

    async def remove_job(self, job_id: str) -> bool:
        """Delete every file of one job now; True if there was anything."""
        folder = self.job_dir(job_id)
        return await asyncio.to_thread(_remove_tree, folder)

    async def cleanup(self, older_than: float, delivered_job_ids: Collection[str]) -> list[str]:
        """Remove the folders of ``delivered_job_ids`` untouched since ``older_than`` (epoch seconds),
        and temp files a crash left behind; returns the job ids removed.

        Jobs not listed are kept whatever their age: they may still be waiting, running or delivering.
        """
        async with self._sweeping:
            return await asyncio.to_thread(self._cleanup, older_than, frozenset(delivered_job_ids))

    # --- worker-thread side ----------------------------------------------------------------------

    def _write(self, target: Path, data: bytes) -> SpooledFile:
        _make_dirs(target.parent)
        digest = hashlib.sha256(data).hexdigest()
        fd, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
        # The rename is only durable once the directory entry itself is on disk.
        _fsync_dir(target.parent)
        return SpooledFile(path=target, sha256=digest, size=len(data))

    def _read(self, path: Path) -> bytes:
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise StorageError(f"{path} is not inside the spool")
        return resolved.read_bytes()

    def _cleanup(self, older_than: float, delivered: frozenset[str]) -> list[str]:
        if not self.root.is_dir():
            return []
        removed: list[str] = []
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir():
                continue
            if folder.name in delivered and _newest_mtime(folder) < older_than:
                if _remove_tree(folder):
                    removed.append(folder.name)
                continue
            for temp in folder.rglob(f"{_TEMP_PREFIX}*"):
                with contextlib.suppress(FileNotFoundError):
                    if temp.stat().st_mtime < older_than:
                        temp.unlink()
        return removed


def safe_name(name: str) -> str:
    """A file name that cannot leave its folder or hide: ``"../../etc/passwd"`` -> ``"passwd"``."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).lstrip("._-")
    if len(cleaned) > _MAX_NAME:
        stem, dot, ext = cleaned.rpartition(".")
        cleaned = (
            stem[: _MAX_NAME - len(ext) - 1] + dot + ext if dot and len(ext) <= 8 else cleaned[:_MAX_NAME]
        )
    return cleaned or "input"


def _make_dirs(folder: Path) -> None:
    """Create ``folder`` and missing parents, making each new directory entry durable."""
    missing: list[Path] = []
    current = folder
    while not current.exists() and current.parent != current:
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            path.mkdir()
        _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    if not hasattr(os, "O_DIRECTORY"):  # Windows cannot open a directory to fsync it
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _newest_mtime(folder: Path) -> float:
    newest = folder.stat().st_mtime
    for path in folder.rglob("*"):
        with contextlib.suppress(FileNotFoundError):
            newest = max(newest, path.stat().st_mtime)
    return newest


def _remove_tree(folder: Path) -> bool:
    if not folder.exists():
        return False
    # Another thread (a sweep, a failed submission's clean-up) may remove parts of it meanwhile.
    shutil.rmtree(folder, onerror=_unless_gone)
    return True


def _unless_gone(
    function: object, path: str, exc_info: tuple[type[BaseException], BaseException, object]
) -> None:
    if not isinstance(exc_info[1], FileNotFoundError):
        raise exc_info[1]
