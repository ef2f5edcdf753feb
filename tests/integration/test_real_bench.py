"""``python -m bench --real`` runs against any ComfyUI; here the fake, to keep the benchmark working.
(Figures are not checked: timings are the benchmark's business, not a test's.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import real_bench
from tests.fakes.comfyui import FakeComfyUI
from tests.real import workflows


async def test_both_patterns_run_the_same_jobs_on_every_server(tmp_path: Path) -> None:
    folder = workflows.build(tmp_path / "workflows", extra=())
    async with (
        FakeComfyUI(root_dir=tmp_path / "a", step_delay=0.001) as first,
        FakeComfyUI(root_dir=tmp_path / "b", step_delay=0.001) as second,
    ):
        report = await real_bench.run(
            [first.base_url, second.base_url],
            jobs=8,
            values={"size": "tiny", "steps": "2"},
            workflows=folder,
        )
        prompts = [r["prompt"] for fake in (first, second) for r in fake.prompt_requests]
    assert report["jobs"] == 8
    assert report["rounds"] == 2
    for pattern in ("sequential", "engine"):
        figures = report[pattern]
        assert figures["failed"] == 0
        assert sum(figures["jobs_per_server"].values()) == 8
        # Two blocks of 4 jobs (run A B B A), 2 per server each: one gap per server per block.
        assert figures["idle_gap_ms"]["n"] == 4
    names = [url.split("//", 1)[1] for url in (first.base_url, second.base_url)]
    assert report["sequential"]["jobs_per_server"] == dict.fromkeys(names, 4), "round-robin"
    assert set(report["real_idle_gap_ms"]) == {"median", "p95"}
    assert report["real_speedup_vs_sequential"] > 0
    # 2 warm-up jobs, then 8 + 8 with distinct seeds and prompt texts, so nothing came from the cache.
    assert len(prompts) == 18
    seeds = [n["inputs"]["seed"] for p in prompts for n in p.values() if n["class_type"] == "KSampler"]
    assert len(set(seeds[2:])) == 16


async def test_a_template_that_needs_an_image_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="needs an image"):
        await real_bench.run(["http://127.0.0.1:9"], template="invert")
