"""Hostile workflow folders: every strange file is one problem naming it, and the rest still loads.

Each case drops one file (or link, FIFO, folder...) beside the bundled workflows and asserts the exact
problem line and that the five bundled templates are all still there.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.templates import load_templates_lenient
from bot.templates.loader import DEFAULT_MAX_FILE_BYTES

from .conftest import BUNDLED, graph_text

BUNDLED_NAMES = ("imagine", "img2img", "inpaint", "invert", "pulse", "upscale")
INVERT = (BUNDLED / "invert.json").read_text()


@dataclass(frozen=True)
class FolderCase:
    name: str
    make: Callable[[Path, Path], None]  # (workflows folder, a scratch folder outside it)
    expected: str  # the exact problem line


def _text(name: str, text: str) -> Callable[[Path, Path], None]:
    return lambda folder, _: (folder / name).write_text(text)


def _pair(stem: str, manifest: str) -> Callable[[Path, Path], None]:
    def make(folder: Path, _: Path) -> None:
        (folder / f"{stem}.json").write_text(INVERT)
        (folder / f"{stem}.toml").write_text(manifest)

    return make


def _graph(nodes: dict[str, tuple[str, dict[str, object]]]) -> str:
    return json.dumps({k: {"class_type": c, "inputs": i} for k, (c, i) in nodes.items()})


def _fifo(folder: Path, _: Path) -> None:
    os.mkfifo(folder / "pipe.json")


def _dev_zero(folder: Path, _: Path) -> None:
    (folder / "zero.json").symlink_to("/dev/zero")


def _outside(folder: Path, scratch: Path) -> None:
    secret = scratch / "elsewhere.json"
    secret.write_text(INVERT)
    (folder / "escape.json").symlink_to(secret)


def _relative_escape(folder: Path, scratch: Path) -> None:
    (scratch / "up.json").write_text(INVERT)
    (folder / "up.json").symlink_to(Path("..") / scratch.name / "up.json")


def _dangling(folder: Path, _: Path) -> None:
    (folder / "gone.json").symlink_to(folder / "never-there.json")


def _loop(folder: Path, _: Path) -> None:
    (folder / "a.json").symlink_to(folder / "b.json")
    (folder / "b.json").symlink_to(folder / "a.json")


def _sparse(size: int, name: str = "huge.json") -> Callable[[Path, Path], None]:
    def make(folder: Path, _: Path) -> None:
        with (folder / name).open("wb") as handle:
            handle.truncate(size)  # sparse: costs no disk and no time

    return make


def _directory(folder: Path, _: Path) -> None:
    (folder / "folder.json").mkdir()


def _manifest_link_out(folder: Path, scratch: Path) -> None:
    (folder / "linked.json").write_text(INVERT)
    (scratch / "linked.toml").write_text("[command]\nname = 'linked'\n")
    (folder / "linked.toml").symlink_to(scratch / "linked.toml")


def _manifest_fifo(folder: Path, _: Path) -> None:
    (folder / "piped.json").write_text(INVERT)
    os.mkfifo(folder / "piped.toml")


DEEP = 100_000
CASES = [
    FolderCase("fifo", _fifo, "pipe.json: not read: it is a named pipe (FIFO), not a regular file"),
    FolderCase(
        "link to /dev/zero",
        _dev_zero,
        "zero.json: not read: it is a link to a file outside the folder; copy the file into the folder "
        "instead",
    ),
    FolderCase(
        "link out of the folder",
        _outside,
        "escape.json: not read: it is a link to a file outside the folder; copy the file into the folder "
        "instead",
    ),
    FolderCase(
        "relative link out",
        _relative_escape,
        "up.json: not read: it is a link to a file outside the folder; copy the file into the folder instead",
    ),
    FolderCase("dangling link", _dangling, "gone.json: not read: it is a link to a file that does not exist"),
    FolderCase("folder named .json", _directory, "folder.json: not read: it is a folder, not a regular file"),
    FolderCase(
        "1.5 GB file",
        _sparse(1_610_612_736),
        "huge.json: not read: it is 1.50 GiB; the limit is 4.0 MiB (the WORKFLOW_MAX_MB setting)",
    ),
    FolderCase(
        "one byte over the cap",
        _sparse(DEFAULT_MAX_FILE_BYTES + 1, "over.json"),
        "over.json: not read: it is 4.0 MiB; the limit is 4.0 MiB (the WORKFLOW_MAX_MB setting)",
    ),
    FolderCase(
        "deep JSON array",
        _text("deep.json", "[" * DEEP + "]" * DEEP),
        "deep.json: invalid JSON: it is nested too deeply",
    ),
    FolderCase(
        "deep JSON object",
        _text("deepobj.json", '{"a":' * DEEP + "1" + "}" * DEEP),
        "deepobj.json: invalid JSON: it is nested too deeply",
    ),
    FolderCase(
        "nesting under the parser's limit but over ours",
        _text("nested.json", '{"1": {"class_type": "X", "inputs": {"v": ' + "[" * 200 + "]" * 200 + "}}}"),
        "nested.json: unusable JSON: it is nested more than 32 levels deep (at 1.inputs.v" + "[0]" * 29 + ")",
    ),
    FolderCase(
        "NaN in a workflow",
        _text("nan.json", INVERT.replace('"image": "example.png"', '"image": NaN', 1)),
        "nan.json: invalid JSON: NaN is not a JSON number",
    ),
    FolderCase(
        "1e999 in a workflow",
        _text("inf.json", '{"1": {"class_type": "KSampler", "inputs": {"cfg": 1e999}}}'),
        "inf.json: invalid JSON: the number 1e999 is out of range",
    ),
    FolderCase(
        "integer of 5000 digits",
        _text("digits.json", '{"1": {"class_type": "KSampler", "inputs": {"seed": ' + "9" * 5000 + "}}}"),
        "digits.json: invalid JSON: Exceeds the limit (4300 digits) for integer string conversion: value "
        "has 5000 digits; use sys.set_int_max_str_digits() to increase the limit",
    ),
    FolderCase(
        "not UTF-8",
        lambda folder, _: (folder / "latin.json").write_bytes(b'{"1": {"class_type": "caf\xe9"}}'),
        "latin.json: not read: it is not UTF-8 text (byte 25 is invalid)",
    ),
    FolderCase(
        "deep TOML",
        _pair("deeptoml", "x = " + "[" * DEEP + "]" * DEEP),
        "deeptoml.toml: invalid TOML: it is nested too deeply",
    ),
    FolderCase(
        "nan in a manifest",
        _pair("nantoml", "[params.scale]\ntype = 'float'\nmin = nan\ntarget = '2'\n"),
        "nantoml.toml: unusable TOML: params.scale.min is nan; only finite numbers are allowed",
    ),
    FolderCase(
        "manifest linked from outside",
        _manifest_link_out,
        "linked.toml: not read: it is a link to a file outside the folder; copy the file into the folder "
        "instead",
    ),
    FolderCase(
        "manifest is a FIFO",
        _manifest_fifo,
        "piped.toml: not read: it is a named pipe (FIFO), not a regular file",
    ),
    FolderCase(
        "two-node cycle",
        _text(
            "cycle.json",
            _graph(
                {
                    "1": ("LoadImage", {"image": "x.png"}),
                    "2": ("ImageBlend", {"image1": ["1", 0], "image2": ["3", 0]}),
                    "3": ("ImageInvert", {"image": ["2", 0]}),
                    "4": ("SaveImage", {"images": ["3", 0]}),
                }
            ),
        ),
        "cycle.json: nodes 2, 3 form a cycle (2 -> 3 -> 2, each feeding the next); a workflow must flow "
        "one way",
    ),
    FolderCase(
        "node linked to itself",
        _text(
            "selfish.json",
            _graph({"1": ("ImageInvert", {"image": ["1", 0]}), "2": ("SaveImage", {"images": ["1", 0]})}),
        ),
        "selfish.json: node 1: input 'image' links to the node itself; a workflow must flow one way",
    ),
    FolderCase(
        "three-node cycle",
        _text(
            "ring.json",
            _graph(
                {
                    "10": ("ImageInvert", {"image": ["12", 0]}),
                    "11": ("ImageInvert", {"image": ["10", 0]}),
                    "12": ("ImageInvert", {"image": ["11", 0]}),
                    "13": ("SaveImage", {"images": ["12", 0]}),
                }
            ),
        ),
        "ring.json: nodes 10, 11, 12 form a cycle (10 -> 11 -> 12 -> 10, each feeding the next); a workflow "
        "must flow one way",
    ),
    FolderCase(
        "dangling link",
        _text("dangle.json", _graph({"1": ("SaveImage", {"images": ["7", 0]})})),
        "dangle.json: node 1: input 'images' links to node 7, which does not exist",
    ),
    FolderCase(
        "negative output index",
        _text(
            "negative.json",
            _graph({"1": ("LoadImage", {"image": "x.png"}), "2": ("SaveImage", {"images": ["1", -1]})}),
        ),
        "negative.json: node 2: input 'images' links to output -1 of node 1; output numbers start at 0",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_file_disables_only_itself(case: FolderCase, tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    scratch = tmp_path / "scratch"
    shutil.copytree(BUNDLED, folder)
    scratch.mkdir()
    case.make(folder, scratch)
    started = time.monotonic()
    templates, problems = load_templates_lenient(folder)
    elapsed = time.monotonic() - started
    assert [str(p) for p in problems] == [case.expected]
    assert templates.names == BUNDLED_NAMES, "every other template still loads"
    assert elapsed < 30, "nothing hangs (a FIFO or /dev/zero used to)"


def test_a_link_inside_the_folder_is_followed(tmp_path: Path) -> None:
    folder = tmp_path / "w"
    (folder / "real").mkdir(parents=True)
    (folder / "real" / "negate.json").write_text(INVERT)
    (folder / "negate.json").symlink_to(Path("real") / "negate.json")
    templates, problems = load_templates_lenient(folder)
    assert problems == []
    assert templates.names == ("negate",)


def test_hidden_files_are_ignored(tmp_path: Path) -> None:
    (tmp_path / ".swap.json").write_text("{not json")
    (tmp_path / "._invert.json").write_bytes(b"\x00\x05\x16\x07")
    (tmp_path / "invert.json").write_text(INVERT)
    templates, problems = load_templates_lenient(tmp_path)
    assert problems == []
    assert templates.names == ("invert",)


def test_the_size_limit_is_a_setting(tmp_path: Path) -> None:
    (tmp_path / "sd.json").write_text(graph_text("sd15_default"))
    size = (tmp_path / "sd.json").stat().st_size
    _, problems = load_templates_lenient(tmp_path, max_file_bytes=size - 1)
    assert [p.message for p in problems] == [
        f"not read: it is {size / 1024:.1f} KiB; the limit is {(size - 1) / 1024:.1f} KiB "
        "(the WORKFLOW_MAX_MB setting)"
    ]
    templates, problems = load_templates_lenient(tmp_path, max_file_bytes=size)
    assert problems == []
    assert templates.names == ("sd",)


def test_an_unexpected_error_in_one_file_leaves_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A check we did not foresee tripping on one file: that file is named, the rest load."""
    shutil.copytree(BUNDLED, tmp_path / "w")
    from bot.templates import loader

    real = loader.parse_template

    def trips(stem: str, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if stem == "invert":
            raise RecursionError("maximum recursion depth exceeded")
        return real(stem, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loader, "parse_template", trips)
    templates, problems = load_templates_lenient(tmp_path / "w")
    assert [str(p) for p in problems] == ["invert.json: could not be loaded (an internal error, see the log)"]
    assert templates.names == ("imagine", "img2img", "inpaint", "pulse", "upscale")
    assert "could not load the workflow invert.json" in caplog.text
