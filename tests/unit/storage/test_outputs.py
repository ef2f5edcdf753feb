"""OutputRepository: outputs in index order; a re-run overwrites by index."""

from __future__ import annotations

from pathlib import Path

from bot.jobs import OutputRef
from bot.storage import Database, JobRepository, OutputRepository

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
