"""OutputRepository: outputs in index order with their kind; a re-run overwrites by index."""

from __future__ import annotations

from pathlib import Path

from bot.jobs import OutputRef
from bot.media import OutputKind
from bot.storage import Database, JobRepository, OutputRepository
from bot.storage.migrate import load_migrations

from .conftest import MakeJob


async def test_add_list_and_clear(
    db: Database, jobs: JobRepository, make_job: MakeJob, tmp_path: Path
) -> None:
    outputs = OutputRepository(db)
    job = await jobs.insert(make_job())
    second = OutputRef(1, tmp_path / "001.png", "bb" * 32, "image/png", 512, 768, "9")
    first = OutputRef(0, tmp_path / "000.png", "aa" * 32, "image/png")
    await outputs.add(job.id, second)
    await outputs.add(job.id, first)
    assert await outputs.list_for_job(job.id) == [first, second]

    rerun = OutputRef(0, tmp_path / "000.webp", "cc" * 32, "image/webp", 64, 64, "12")
    await outputs.add_many(job.id, [rerun])
    assert await outputs.list_for_job(job.id) == [rerun, second]

    assert await outputs.clear(job.id) == 2
    assert await outputs.list_for_job(job.id) == []


async def test_the_kind_of_each_output_is_kept(
    db: Database, jobs: JobRepository, make_job: MakeJob, tmp_path: Path
) -> None:
    outputs = OutputRepository(db)
    job = await jobs.insert(make_job())
    stored = [
        OutputRef(0, tmp_path / "000.mp4", "aa" * 32, "video/mp4", None, None, "31", OutputKind.VIDEO),
        OutputRef(1, tmp_path / "001.webp", "bb" * 32, "image/webp", 8, 8, "20", OutputKind.ANIMATION),
        OutputRef(2, tmp_path / "002.flac", "cc" * 32, "audio/flac", None, None, "5", OutputKind.AUDIO),
        OutputRef(3, tmp_path / "003.txt", "dd" * 32, "text/plain", None, None, "41", OutputKind.TEXT),
    ]
    await outputs.add_many(job.id, stored)
    assert await outputs.list_for_job(job.id) == stored
    # A re-run (same seed) may make another kind at the same index.
    await outputs.add(job.id, OutputRef(0, tmp_path / "000.png", "ee" * 32, "image/png", 8, 8, "31"))
    assert (await outputs.list_for_job(job.id))[0].kind is OutputKind.IMAGE


async def test_outputs_stored_before_kinds_existed_are_images(tmp_path: Path) -> None:
    """Migration 0005: rows written before it read back as images (all outputs were then)."""
    path = tmp_path / "old.sqlite3"
    migrations = load_migrations()
    assert migrations[4].version == 5
    async with await Database.open(path, migrations=migrations[:4]) as db:
        await db.execute(
            "INSERT INTO jobs (id, guild_id, channel_id, user_id, template, params, state, created_at,"
            " updated_at) VALUES ('AAAA2222', 5, 10, 1, 'imagine', '{}', 'delivered', 1.0, 1.0)"
        )
        await db.execute(
            "INSERT INTO job_outputs (job_id, idx, path, sha256, mime)"
            " VALUES ('AAAA2222', 0, '/x.png', 'ab', 'image/png')"
        )
    async with await Database.open(path, migrations=migrations) as db:
        [output] = await OutputRepository(db).list_for_job("AAAA2222")
        assert output.kind is OutputKind.IMAGE
