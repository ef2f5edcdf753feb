"""Spool: atomic writes, safe names, reads confined to the spool, retention cleanup."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from bot.storage import Spool, StorageError, safe_name

JOB = "AB12CD34"
OTHER = "ZX98YW76"


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool.in_data_dir(tmp_path / "data")


def _age(folder: Path, mtime: float) -> None:
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (mtime, mtime))


async def test_put_input_and_read_back(spool: Spool) -> None:
    stored = await spool.put_input(JOB, "cat photo.png", b"png-bytes")
    assert stored.path == spool.root / JOB / "in" / "cat_photo.png"
    assert stored.sha256 == hashlib.sha256(b"png-bytes").hexdigest()
    assert stored.size == 9
    assert await spool.read(stored.path) == b"png-bytes"


async def test_put_output_names_by_index(spool: Spool) -> None:
    stored = await spool.put_output(JOB, 3, b"\x89PNG", ".PNG")
    assert stored.path == spool.root / JOB / "out" / "003.png"
    assert stored.path.read_bytes() == b"\x89PNG"


async def test_output_arguments_are_checked(spool: Spool) -> None:
    with pytest.raises(ValueError, match="extension"):
        await spool.put_output(JOB, 0, b"x", "png/../../x")
    with pytest.raises(ValueError, match="index"):
        await spool.put_output(JOB, -1, b"x", "png")


async def test_same_name_is_replaced_whole(spool: Spool) -> None:
    await spool.put_input(JOB, "a.png", b"old")
    stored = await spool.put_input(JOB, "a.png", b"new")
    assert stored.path.read_bytes() == b"new"
    assert sorted(p.name for p in stored.path.parent.iterdir()) == ["a.png"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("/abs/path.png", "path.png"),
        (".hidden", "hidden"),
        ("..", "input"),
        ("", "input"),
        ("weird name (1).PNG", "weird_name_1_.PNG"),
        ("émoji🙂.jpg", "moji_.jpg"),
    ],
)
def test_safe_name(name: str, expected: str) -> None:
    assert safe_name(name) == expected


def test_safe_name_keeps_the_extension_of_long_names() -> None:
    name = safe_name("x" * 300 + ".webp")
    assert len(name) == 100
    assert name.endswith(".webp")


async def test_names_cannot_escape_the_job_folder(spool: Spool) -> None:
    stored = await spool.put_input(JOB, "../../../../escape.txt", b"x")
    assert stored.path.parent == spool.root / JOB / "in"
    assert stored.path.resolve().is_relative_to(spool.root.resolve())


@pytest.mark.parametrize("job_id", ["../x", "ab12cd34", "AB12CD3", "AB12CD34/..", ""])
async def test_only_canonical_job_ids(spool: Spool, job_id: str) -> None:
    with pytest.raises(StorageError, match="not a job id"):
        await spool.put_input(job_id, "a.png", b"x")


async def test_read_refuses_paths_outside_the_spool(spool: Spool, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"secret")
    with pytest.raises(StorageError, match="not inside"):
        await spool.read(secret)
    with pytest.raises(StorageError, match="not inside"):
        await spool.read(spool.root / JOB / ".." / ".." / "secret.txt")


async def test_a_failed_write_leaves_no_trace(spool: Spool, monkeypatch: pytest.MonkeyPatch) -> None:
    original = await spool.put_input(JOB, "a.png", b"complete image")

    def crash(src: str, dst: str) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        await spool.put_input(JOB, "a.png", b"half")
    # The old file is untouched and no temp file is left behind.
    assert original.path.read_bytes() == b"complete image"
    assert sorted(p.name for p in original.path.parent.iterdir()) == ["a.png"]


async def test_writes_go_through_a_temp_file(spool: Spool, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        seen.append((Path(src).name, Path(dst).name))
        # At the moment of the rename the target does not exist yet: readers never see a partial file.
        assert not Path(dst).exists()
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    await spool.put_output(JOB, 0, b"data", "png")
    assert len(seen) == 1
    assert seen[0][0].startswith(".tmp-")
    assert seen[0][1] == "000.png"


async def test_cleanup_removes_only_old_delivered_jobs(spool: Spool) -> None:
    await spool.put_input(JOB, "a.png", b"a")
    await spool.put_output(JOB, 0, b"b", "png")
    await spool.put_input(OTHER, "a.png", b"a")
    young = "YYYYYYYY"
    await spool.put_input(young, "a.png", b"a")
    _age(spool.root / JOB, 1_000)
    _age(spool.root / OTHER, 1_000)
    _age(spool.root / young, 5_000)

    removed = await spool.cleanup(older_than=2_000, delivered_job_ids={JOB, young})
    assert removed == [JOB]
    assert not (spool.root / JOB).exists()
    assert (spool.root / OTHER).exists()  # old, but not finished: still needed
    assert (spool.root / young).exists()  # finished, but within retention


async def test_cleanup_sweeps_stale_temp_files(spool: Spool) -> None:
    stored = await spool.put_input(JOB, "a.png", b"a")
    stale = stored.path.parent / ".tmp-crashed"
    fresh = stored.path.parent / ".tmp-writing"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    os.utime(stale, (1_000, 1_000))
    os.utime(fresh, (5_000, 5_000))
    assert await spool.cleanup(older_than=2_000, delivered_job_ids=()) == []
    assert not stale.exists()
    assert fresh.exists()
    assert stored.path.exists()


async def test_cleanup_of_an_empty_spool(spool: Spool) -> None:
    assert await spool.cleanup(older_than=0, delivered_job_ids={JOB}) == []


async def test_remove_job(spool: Spool) -> None:
    await spool.put_input(JOB, "a.png", b"a")
    assert await spool.remove_job(JOB)
    assert not await spool.remove_job(JOB)
