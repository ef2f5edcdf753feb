"""Reading files someone else put there: regular files only, never more than the limit, never blocking."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.files import FileRefused, FileTooLarge, describe_size, read_regular_file


def test_a_regular_file_at_the_limit_is_read(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 100)
    assert read_regular_file(tmp_path / "a", max_bytes=100) == b"x" * 100
    with pytest.raises(FileTooLarge, match="is 100 bytes; the limit is 99 bytes"):
        read_regular_file(tmp_path / "a", max_bytes=99)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/dev/zero", "is a character device, not a regular file"),
        ("/dev/null", "is a character device, not a regular file"),
        ("/", "is a folder, not a regular file"),
        ("/does/not/exist", "does not exist"),
    ],
)
def test_what_is_not_a_regular_file_is_refused(path: str, reason: str) -> None:
    with pytest.raises(FileRefused) as info:
        read_regular_file(Path(path), max_bytes=1 << 20)
    assert info.value.reason == reason


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")  # opening it for reading would wait for a writer forever
    with pytest.raises(FileRefused, match="named pipe"):
        read_regular_file(tmp_path / "pipe", max_bytes=1 << 20)


def test_a_file_that_reports_no_size_is_still_capped() -> None:
    smaps = Path("/proc/self/smaps")  # a regular file of size 0 that yields many kilobytes
    assert smaps.stat().st_size == 0
    with pytest.raises(FileTooLarge, match="is larger than the limit of 512 bytes"):
        read_regular_file(smaps, max_bytes=512)


def test_the_head_is_checked_before_the_rest_is_read(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"A" * (200 * 1024))
    seen: list[int] = []

    def refuse(head: bytes) -> None:
        seen.append(len(head))
        raise FileRefused("is not what it claims")

    with pytest.raises(FileRefused, match="is not what it claims"):
        read_regular_file(tmp_path / "big", max_bytes=1 << 20, check_head=refuse)
    assert seen == [64 * 1024]


def test_links_must_stay_inside_the_folder(tmp_path: Path) -> None:
    inside = tmp_path / "in"
    inside.mkdir()
    (tmp_path / "secret").write_text("s")
    (inside / "ok").write_text("fine")
    (inside / "alias").symlink_to(inside / "ok")
    (inside / "out").symlink_to(tmp_path / "secret")
    assert read_regular_file(inside / "alias", max_bytes=10, inside=inside) == b"fine"
    with pytest.raises(FileRefused, match="outside the folder"):
        read_regular_file(inside / "out", max_bytes=10, inside=inside)
    assert read_regular_file(inside / "out", max_bytes=10) == b"s", "without a folder, links are followed"


@pytest.mark.parametrize(
    ("size", "text"),
    [(512, "512 bytes"), (1536, "1.5 KiB"), (4 << 20, "4.0 MiB"), (1_610_612_736, "1.50 GiB")],
)
def test_describe_size(size: int, text: str) -> None:
    assert describe_size(size) == text
