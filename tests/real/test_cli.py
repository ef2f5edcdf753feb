"""``comfycord generate`` against real servers: every bundled template, known pixels, the server's word."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from tests.real.servers import RealServer
from tests.real.support import backwards, decode, encode, half_mask, inverted, pattern, run_cli

INPUT = (68, 52)  # not a multiple of 8: the samplers' VAE crops to 64x48
CROPPED = (64, 48)


def _write(tmp_path: Path, name: str, image: Image.Image) -> str:
    path = tmp_path / f"{name}.png"
    path.write_bytes(encode(image))
    return str(path)


def _cases(tmp_path: Path) -> dict[str, tuple[list[str], list[tuple[int, int]]]]:
    """template: (arguments, the size of every output)."""
    image = _write(tmp_path, "in", pattern(INPUT))
    mask = _write(tmp_path, "mask", half_mask(INPUT))
    return {
        "imagine": (
            ["--set", "prompt=a lighthouse", "--set", "size=tiny", "--set", "steps=2", "--set", "batch=2"],
            [(64, 64), (64, 64)],
        ),
        "img2img": (["--set", "prompt=a boat", "--set", "steps=2", "--image", f"image={image}"], [CROPPED]),
        "inpaint": (
            [
                "--set",
                "prompt=a door",
                "--set",
                "steps=2",
                "--image",
                f"image={image}",
                "--image",
                f"mask={mask}",
            ],
            [CROPPED],
        ),
        "upscale": (["--image", f"image={image}"], [(INPUT[0] * 4, INPUT[1] * 4)]),
        "invert": (["--image", f"image={image}"], [INPUT]),
    }


@pytest.mark.parametrize("template", ["imagine", "img2img", "inpaint", "upscale", "invert"])
async def test_generate_runs_every_bundled_template(
    template: str, servers: list[RealServer], by_name, real_workflows: Path, tmp_path: Path
) -> None:
    args, sizes = _cases(tmp_path)[template]
    code, out, err = await run_cli(
        "generate",
        template,
        *args,
        "--out",
        str(tmp_path / "out"),
        "--json",
        backends=[s.url for s in servers],
        workflows_dir=real_workflows,
        cwd=tmp_path,
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["status"] == "succeeded"
    outputs = [decode(Path(p).read_bytes()) for p in summary["outputs"]]
    assert [o.size for o in outputs] == sizes
    assert all(o.format == "PNG" for o in outputs)
    if template == "invert":
        expected = inverted(pattern(INPUT))
        assert outputs[0].convert("RGB").tobytes() == expected.tobytes(), "every pixel inverted"
    # The server's own record: the prompt ran there, once, and succeeded.
    (entry,) = await by_name(summary["backend"]).history_of_job(summary["job"])
    assert entry.succeeded


async def test_generate_progress_on_a_pipe_never_goes_backwards(
    servers: list[RealServer], real_workflows: Path, tmp_path: Path
) -> None:
    code, _, err = await run_cli(
        "generate",
        "imagine",
        "--set",
        "prompt=a windmill",
        "--set",
        "size=tiny",
        "--set",
        "steps=4",
        "--out",
        str(tmp_path / "out"),
        backends=[servers[0].url],
        workflows_dir=real_workflows,
        cwd=tmp_path,
    )
    assert code == 0, err
    lines = [line for line in err.splitlines() if line.startswith("[")]
    percents = [int(m.group(1)) for line in lines if (m := re.search(r"\]\s+(\d+)%", line))]
    assert percents, err
    assert backwards(percents) == [], lines
    assert any("KSampler step" in line for line in lines), lines


async def test_generate_never_shows_waiting_again_once_a_node_ran(
    servers: list[RealServer], real_workflows: Path, tmp_path: Path
) -> None:
    code, _, err = await run_cli(
        "generate",
        "imagine",
        "--set",
        "prompt=a quiet mill",
        "--set",
        "size=tiny",
        "--set",
        "steps=2",
        "--out",
        str(tmp_path / "out"),
        backends=[servers[0].url],
        workflows_dir=real_workflows,
        cwd=tmp_path,
    )
    assert code == 0, err
    lines = [line for line in err.splitlines() if line.startswith("[")]
    first_node = next(i for i, line in enumerate(lines) if "waiting on" not in line)
    assert not [line for line in lines[first_node:] if "waiting on" in line], lines


async def test_generate_reports_an_execution_error_from_the_server(
    servers: list[RealServer], real_workflows: Path, tmp_path: Path
) -> None:
    code, out, err = await run_cli(
        "generate",
        "huge",
        "--out",
        str(tmp_path / "out"),
        backends=[servers[0].url],
        workflows_dir=real_workflows,
        cwd=tmp_path,
    )
    assert code == 1, (out, err)
    assert "failed" in err
    assert "EmptyLatentImage" in err or "Empty Latent Image" in err
    assert "allocate memory" in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


async def test_generate_reports_a_validation_error_from_the_server(
    servers: list[RealServer], real_workflows: Path, tmp_path: Path
) -> None:
    mask = _write(tmp_path, "mask", half_mask())
    code, out, err = await run_cli(
        "generate",
        "mismatch",
        "--image",
        f"mask={mask}",
        "--out",
        str(tmp_path / "out"),
        backends=[servers[0].url],
        workflows_dir=real_workflows,
        cwd=tmp_path,
    )
    assert code == 1, (out, err)
    assert "Invert Image" in err or "ImageInvert" in err, err
    assert "MASK" in err, err
    assert "IMAGE" in err, err
