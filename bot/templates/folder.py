"""The workflows folder on disk: where each template lives, cheap change detection, atomic writes.

The folder is the source of truth, so a restart or someone with a shell sees what Discord did::

    workflows/<stem>.json (+ <stem>.toml)          published: a slash command
    workflows/drafts/<stem>.json (+ .toml)         added from Discord, not published yet (owners can try)
    workflows/retired/<stem>.json (+ .toml)        retired: no command; can be published again

Every write goes to a hidden temporary file in the same folder, is flushed to disk, then renamed over
the target: a reader (the bot's own poller, a restart, a shell user) sees the old file or the new one,
never half of one. Hidden files are never loaded, so a temporary file left by a crash is ignored.

Everything here blocks (it is file I/O): call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from bot.templates.loader import DEFAULT_MAX_FILE_BYTES, TemplateFiles, listed, read_template_files
from bot.templates.model import Problem


class Area(StrEnum):
    """Where a template's files are, which says what the template is."""

    PUBLISHED = "published"
    DRAFT = "draft"
    RETIRED = "retired"


SUBFOLDERS: Final = {Area.PUBLISHED: "", Area.DRAFT: "drafts", Area.RETIRED: "retired"}
_SUFFIXES: Final = (".json", ".toml")

Fingerprint = tuple[tuple[str, int, int, int], ...]
"""(relative path, size, mtime in ns, inode) of every workflow and manifest file."""


@dataclass(frozen=True, slots=True)
class StemRead:
    """What reading one ``<stem>.json`` (and its manifest) of one area gave."""

    area: Area
    stem: str
    files: TemplateFiles | None
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class FolderRead:
    """Everything in the folder: each template's files, and problems that belong to no template."""

    stems: tuple[StemRead, ...]
    problems: tuple[Problem, ...] = ()


class WorkflowFolder:
    """Reads and writes ``WORKFLOWS_DIR`` and its ``drafts/`` and ``retired/`` subfolders."""

    def __init__(self, root: Path, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> None:
        self.root = root
        self.max_file_bytes = max_file_bytes

    def directory(self, area: Area) -> Path:
        sub = SUBFOLDERS[area]
        return self.root / sub if sub else self.root

    def prefix(self, area: Area) -> str:
        """How problems name a file of ``area`` ("drafts/x.json"; published files go by their name)."""
        sub = SUBFOLDERS[area]
        return f"{sub}/" if sub else ""

    def json_path(self, area: Area, stem: str) -> Path:
        return self.directory(area) / f"{stem}.json"

    def toml_path(self, area: Area, stem: str) -> Path:
        return self.directory(area) / f"{stem}.toml"

    # --- reading --------------------------------------------------------------------------------

    def fingerprint(self) -> Fingerprint:
        """A cheap summary that changes whenever a workflow or manifest file is added, removed, replaced
        or written: one directory listing per area and the stat it already carries."""
        entries: list[tuple[str, int, int, int]] = []
        for area in Area:
            directory = self.directory(area)
            try:
                with os.scandir(directory) as scan:
                    for entry in scan:
                        if entry.name.startswith(".") or not entry.name.endswith(_SUFFIXES):
                            continue
                        try:
                            info = entry.stat(follow_symlinks=False)
                        except OSError:
                            continue  # removed while we looked: the next look sees it gone
                        rel = f"{SUBFOLDERS[area]}/{entry.name}"
                        entries.append((rel, info.st_size, info.st_mtime_ns, info.st_ino))
            except (FileNotFoundError, NotADirectoryError):
                entries.append((f"{SUBFOLDERS[area]}/", -1, 0, 0))
        return tuple(sorted(entries))

    def read(self) -> FolderRead:
        """Read every template file of every area (hardened: see ``bot.files``)."""
        if not self.root.is_dir():
            return FolderRead((), (Problem(str(self.root), "the workflows folder does not exist"),))
        stems: list[StemRead] = []
        problems: list[Problem] = []
        for area in Area:
            directory = self.directory(area)
            if area is not Area.PUBLISHED and not directory.is_dir():
                continue
            prefix = self.prefix(area)
            json_paths = listed(directory, ".json")
            names = {p.stem for p in json_paths}
            problems.extend(
                Problem(
                    f"{prefix}{p.name}", f"manifest without a workflow: there is no {p.stem}.json beside it"
                )
                for p in listed(directory, ".toml")
                if p.stem not in names
            )
            for path in json_paths:
                files, found = read_template_files(path, directory, self.max_file_bytes, prefix=prefix)
                stems.append(StemRead(area, path.stem, files, tuple(found)))
        return FolderRead(tuple(stems), tuple(problems))

    # --- writing --------------------------------------------------------------------------------

    def write(self, area: Area, stem: str, workflow: str, manifest: str | None) -> None:
        """Write a template's files atomically; ``manifest`` None removes a manifest it had.

        The two files are replaced one after the other, ordered so that a crash in between leaves a
        new manifest beside the old workflow (which the loader reports, while the last good version
        keeps running) rather than a workflow read without the manifest that shapes its command.
        """
        directory = self.directory(area)
        directory.mkdir(parents=True, exist_ok=True)
        if manifest is None:
            write_atomically(self.json_path(area, stem), workflow.encode())
            with contextlib.suppress(FileNotFoundError):
                self.toml_path(area, stem).unlink()
        else:
            write_atomically(self.toml_path(area, stem), manifest.encode())
            write_atomically(self.json_path(area, stem), workflow.encode())
        _sync_directory(directory)

    def move(self, stem: str, source: Area, target: Area) -> None:
        """Move a template's files to another area (each file renamed atomically).

        Into the published folder the manifest moves first and out of it the workflow does, so a
        crash in between never publishes a workflow without the manifest that shapes its command.
        """
        self.directory(target).mkdir(parents=True, exist_ok=True)
        pairs = [
            (self.toml_path(source, stem), self.toml_path(target, stem)),
            (self.json_path(source, stem), self.json_path(target, stem)),
        ]
        if source is Area.PUBLISHED:
            pairs.reverse()
        stale_manifest = self.toml_path(target, stem)
        if not self.toml_path(source, stem).exists():
            # A manifest left in the target from an earlier life would shape this workflow wrongly.
            with contextlib.suppress(FileNotFoundError):
                stale_manifest.unlink()
        for old, new in pairs:
            if old.exists():
                os.replace(old, new)
        for area in {source, target}:
            _sync_directory(self.directory(area))

    def exists(self, area: Area, stem: str) -> bool:
        return self.json_path(area, stem).exists()


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` so that readers see the old or the new file, never a part."""
    temporary = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    os.close(fd)
    try:
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def _sync_directory(directory: Path) -> None:
    """Make renames in ``directory`` durable (best effort: not every platform can open a folder)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
