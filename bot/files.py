"""Reading files someone else put on the disk: regular files only, never more than a set size.

A name ending in ``.json`` or ``.png`` can be a FIFO (opening it blocks until a writer comes, reading
it never ends), a link to ``/dev/zero`` (reads until memory runs out), a link out of the folder it sits
in, or simply huge. ``read_regular_file`` opens without blocking, checks what the open descriptor
really is (so a swap between check and read changes nothing) and reads at most ``max_bytes``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Final

_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK: Final = getattr(os, "O_NONBLOCK", 0)
_CHUNK: Final = 1 << 20
HEAD_BYTES: Final = 64 * 1024

_KINDS: Final = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class FileRefused(Exception):
    """Why a file was not read, in plain words that follow its name ("x.json is a named pipe")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FileTooLarge(FileRefused):
    """The file is over the size limit (its size, or what it yields when read, says so)."""


def describe_size(size: int) -> str:
    """``512 bytes``, ``3.5 KiB``, ``12.0 MiB``, ``1.50 GiB``."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1 << 20:
        return f"{size / 1024:.1f} KiB"
    if size < 1 << 30:
        return f"{size / (1 << 20):.1f} MiB"
    return f"{size / (1 << 30):.2f} GiB"


def _inside(path: Path, folder: Path) -> Path:
    """``path`` with every link resolved, if that is still inside ``folder``; else FileRefused."""
    try:
        resolved = path.resolve(strict=True)
        root = folder.resolve(strict=True)
    except FileNotFoundError:
        raise FileRefused("is a link to a file that does not exist") from None
    except (OSError, RuntimeError):  # a link loop (RuntimeError before Python 3.13)
        raise FileRefused("is a link that cannot be followed (a loop?)") from None
    if not resolved.is_relative_to(root):
        raise FileRefused("is a link to a file outside the folder; copy the file into the folder instead")
    return resolved


def _open(path: Path, *, follow_links: bool) -> int:
    flags = os.O_RDONLY | _NONBLOCK | getattr(os, "O_CLOEXEC", 0) | (0 if follow_links else _NOFOLLOW)
    try:
        return os.open(path, flags)
    except FileNotFoundError:
        raise FileRefused("does not exist") from None
    except PermissionError:
        raise FileRefused("cannot be read (permission denied)") from None
    except OSError as exc:
        raise FileRefused(f"cannot be opened ({exc.strerror or exc})") from None


def read_regular_file(
    path: Path,
    *,
    max_bytes: int,
    inside: Path | None = None,
    check_head: Callable[[bytes], None] | None = None,
) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes``; else ``FileRefused``.

    With ``inside``, links are resolved first and the file must end up inside that folder.
    ``check_head`` sees the first ``HEAD_BYTES`` before the rest is read and may raise FileRefused
    (a file that is not what it claims to be then costs one small read).
    """
    target = _inside(path, inside) if inside is not None else path
    fd = _open(target, follow_links=inside is None)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
            raise FileRefused(f"is {kind}, not a regular file")
        if info.st_size > max_bytes:
            raise FileTooLarge(f"is {describe_size(info.st_size)}; the limit is {describe_size(max_bytes)}")
        chunks: list[bytes] = []
        size = 0
        if check_head is not None:
            head = os.read(fd, min(HEAD_BYTES, max_bytes + 1))
            check_head(head)
            chunks.append(head)
            size = len(head)
        while size <= max_bytes and (chunk := os.read(fd, min(_CHUNK, max_bytes + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:  # it grew while we read, or it reports no size (/proc)
            raise FileTooLarge(f"is larger than the limit of {describe_size(max_bytes)}")
        return b"".join(chunks)
    except OSError as exc:
        raise FileRefused(f"cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
