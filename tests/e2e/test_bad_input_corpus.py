"""A corpus of bad input through the real command path: each case ends in a clear, specific message,
nothing is half-created, and the bot keeps serving (a valid command works after every group).

Discord's client normally enforces option ranges and lengths; a modified client or a raw API call
does not, so the fake's client-side checks are switched off here to send hostile values as-is.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import shutil
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.cli.check import run_check
from bot.config import load_settings
from bot.jobmodel.states import JobState
from bot.moderation import PolicyStore
from bot.storage import GuildSettingsRepository
from tests.e2e.harness import BotUnderTest, job_id_of, png, private_reply, status_of
from tests.measure import MEMORY_CEILING_MB, cli_env, comfycord, record, run_measured


@dataclass(frozen=True)
class Case:
    name: str
    command: str
    options: dict[str, Any]
    expect: str | None  # a fragment of the private reply; None: the job must be accepted
    attachments: tuple[tuple[str, bytes, str], ...] = ()


@pytest.fixture(autouse=True)
def hostile_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.fakes.discord.interactions._check_option", lambda *args: None)


async def _relaxed(bot: BotUnderTest) -> None:
    """No cooldown, queue or daily limits: the corpus sends many commands quickly from one member."""
    store = PolicyStore(GuildSettingsRepository(bot.engine.db))
    for key, value in (
        ("cooldown_seconds", "0"),
        ("max_queued_per_user", "0"),
        ("daily_jobs", "0"),
        ("review_mode", "off"),
    ):
        await store.set_text(int(bot.fake.guild.id), key, value)


async def _run(bot: BotUnderTest, cases: list[Case]) -> list[str]:
    await _relaxed(bot)
    failures = []
    for case in cases:
        started = time.monotonic()
        sent = await bot.fake.slash(case.command, case.options, attachments=list(case.attachments) or None)
        try:
            # Generous deadlines: they only bound a failure, and the suite must pass on a busy machine.
            if case.expect is None:
                message = await status_of(bot.fake, sent, timeout=30.0)
                job = await bot.engine.jobs.get(job_id_of(message))
                if job is None or job.state in (JobState.FAILED, JobState.REJECTED):
                    failures.append(f"{case.name}: expected a job, got {job}")
            else:
                reply = await private_reply(bot.fake, sent, timeout=30.0)
                if case.expect not in reply.content:
                    failures.append(f"{case.name}: {reply.content!r} lacks {case.expect!r}")
        except Exception as exc:  # collect, so one run reports every broken case
            failures.append(f"{case.name}: {type(exc).__name__}: {exc}")
        record(f"discord: {case.name}", time.monotonic() - started)
    # Still serving: a valid command after the whole group works.
    sentinel = await bot.fake.slash("imagine", {"prompt": "still alive"})
    job_id = job_id_of(await status_of(bot.fake, sentinel))
    await bot.wait_job(job_id, JobState.DELIVERED)
    return failures


# --- attachments -------------------------------------------------------------------------------------


def _bomb(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


def _encoded(fmt: str, size: tuple[int, int] = (24, 24), **save: Any) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (9, 9, 9)).save(out, format=fmt, **save)
    return out.getvalue()


ATTACHMENT_CASES = [
    Case("text file", "img2img", {"prompt": "p"}, "not an image", (("a.txt", b"hello", "text/plain"),)),
    Case("pdf", "img2img", {"prompt": "p"}, "not an image", (("a.pdf", b"%PDF-1.4", "application/pdf"),)),
    Case("html", "img2img", {"prompt": "p"}, "not an image", (("a.html", b"<html>", "text/html"),)),
    Case(
        "video", "img2img", {"prompt": "p"}, "not an image", (("a.mp4", b"\x00\x00\x00 ftyp", "video/mp4"),)
    ),
    Case("empty png", "img2img", {"prompt": "p"}, "empty", (("e.png", b"", "image/png"),)),
    Case(
        "text as png",
        "img2img",
        {"prompt": "p"},
        "not an image I can read",
        (("fake.png", b"definitely not a png", "image/png"),),
    ),
    Case(
        "truncated png",
        "img2img",
        {"prompt": "p"},
        "damaged or truncated",
        (("t.png", png((64, 64))[:-30], "image/png"),),
    ),
    Case(
        "png header only",
        "img2img",
        {"prompt": "p"},
        "image",
        (("h.png", b"\x89PNG\r\n\x1a\n", "image/png"),),
    ),
    Case(
        "bomb 100k", "img2img", {"prompt": "p"}, "pixels", (("b.png", _bomb(100_000, 100_000), "image/png"),)
    ),
    Case("bomb 20k", "img2img", {"prompt": "p"}, "pixels", (("b.png", _bomb(20_000, 20_000), "image/png"),)),
    Case("bomb wide", "img2img", {"prompt": "p"}, "pixels", (("b.png", _bomb(200_000, 100), "image/png"),)),
    Case("tiff", "img2img", {"prompt": "p"}, "TIFF", (("x.tiff", _encoded("TIFF"), "image/png"),)),
    Case("ico", "img2img", {"prompt": "p"}, "ICO", (("x.ico", _encoded("ICO", (16, 16)), "image/png"),)),
    Case(
        "jpeg garbage tail",
        "img2img",
        {"prompt": "p"},
        None,
        (("g.jpg", _encoded("JPEG") + b"\x00" * 64, "image/jpeg"),),
    ),
    Case("webp ok", "img2img", {"prompt": "p"}, None, (("w.webp", _encoded("WEBP"), "image/webp"),)),
    Case("gif ok", "img2img", {"prompt": "p"}, None, (("g.gif", _encoded("GIF"), "image/gif"),)),
    Case(
        "mask not image",
        "inpaint",
        {"prompt": "p"},
        "mask",
        (("i.png", png(), "image/png"), ("m.txt", b"x", "text/plain")),
    ),
    Case(
        "mask bomb",
        "inpaint",
        {"prompt": "p"},
        "pixels",
        (("i.png", png(), "image/png"), ("m.png", _bomb(50_000, 50_000), "image/png")),
    ),
    Case("no content type garbage", "invert", {}, "not an image I can read", (("x", b"\x01\x02\x03", ""),)),
    Case("weird name", "invert", {}, None, (("my 'pic' (1).png", png(), "image/png"),)),
    Case("unicode name", "invert", {}, None, (("ｐｉｃ✨.png", png(), "image/png"),)),
]


async def test_attachments(bot: BotUnderTest) -> None:
    failures = await _run(bot, ATTACHMENT_CASES)
    assert failures == []


async def test_oversized_attachment_is_refused_before_download(bot: BotUnderTest) -> None:
    fake = bot.fake
    record = await fake.slash(
        "invert", {}, attachments=[("big.png", b"\x00" * (26 * 1024 * 1024), "image/png")]
    )
    assert "the limit is 25 MiB" in (await private_reply(fake, record)).content
    assert not fake.calls("GET", "/attachments/*"), "nothing was downloaded"
    assert await _run(bot, []) == []


async def test_expired_attachment_link(fake_discord_factory, fake_comfy, tmp_path: Path) -> None:
    fake = await fake_discord_factory(attachment_url_lifetime=0.0)
    bot = BotUnderTest(fake, tmp_path / "data", [fake_comfy.base_url])
    await bot.start()
    try:
        record = await fake.slash("invert", {}, attachments=[("old.png", png(), "image/png")])
        assert "expired" in (await private_reply(fake, record)).content
        assert await bot.engine.jobs.count_waiting() == 0
    finally:
        await bot.stop()


# --- parameters at and beyond their bounds ------------------------------------------------------------

BOUND_CASES = [
    Case("steps at min", "imagine", {"prompt": "p", "steps": 1}, None),
    Case("steps at max", "imagine", {"prompt": "p", "steps": 50}, None),
    Case("steps below min", "imagine", {"prompt": "p", "steps": 0}, "`steps`"),
    Case("steps above max", "imagine", {"prompt": "p", "steps": 51}, "`steps`"),
    Case("steps negative", "imagine", {"prompt": "p", "steps": -5}, "`steps`"),
    Case("steps huge", "imagine", {"prompt": "p", "steps": 2**62}, "`steps`"),
    Case("cfg at min", "imagine", {"prompt": "p", "cfg": 1.0}, None),
    Case("cfg below min", "imagine", {"prompt": "p", "cfg": 0.0}, "`cfg`"),
    Case("cfg above max", "imagine", {"prompt": "p", "cfg": 1e9}, "`cfg`"),
    Case("seed zero", "imagine", {"prompt": "p", "seed": 0}, None),
    Case("seed at discord max", "imagine", {"prompt": "p", "seed": 2**53 - 1}, None),
    Case("seed negative", "imagine", {"prompt": "p", "seed": -1}, "`seed`"),
    Case("size unknown choice", "imagine", {"prompt": "p", "size": "gigantic"}, "`size`"),
    Case("size empty", "imagine", {"prompt": "p", "size": ""}, "`size`"),
    Case("size other case", "imagine", {"prompt": "p", "size": "SQUARE"}, None),
    Case("size with spaces", "imagine", {"prompt": "p", "size": " square "}, None),
    Case("sampler unknown", "imagine", {"prompt": "p", "sampler": "warp-drive"}, "`sampler`"),
    Case("checkpoint unknown", "imagine", {"prompt": "p", "checkpoint": "../../secret.ckpt"}, "checkpoint"),
    Case("batch at max", "imagine", {"prompt": "p", "batch": 4}, None),
    Case("batch over", "imagine", {"prompt": "p", "batch": 500}, "`batch`"),
    Case("batch zero", "imagine", {"prompt": "p", "batch": 0}, "`batch`"),
    Case(
        "strength at min",
        "img2img",
        {"prompt": "p", "strength": 0.05},
        None,
        (("i.png", png(), "image/png"),),
    ),
    Case(
        "strength zero",
        "img2img",
        {"prompt": "p", "strength": 0.0},
        "`strength`",
        (("i.png", png(), "image/png"),),
    ),
    Case(
        "strength over",
        "img2img",
        {"prompt": "p", "strength": 1.5},
        "`strength`",
        (("i.png", png(), "image/png"),),
    ),
    Case("scale at max", "invert", {"scale": 4.0}, None, (("i.png", png(), "image/png"),)),
    Case("scale over", "invert", {"scale": 4.01}, "`scale`", (("i.png", png(), "image/png"),)),
    Case("scale nan", "invert", {"scale": float("nan")}, "`scale`", (("i.png", png(), "image/png"),)),
    Case("scale inf", "invert", {"scale": float("inf")}, "`scale`", (("i.png", png(), "image/png"),)),
    Case("method unknown", "invert", {"method": "magic"}, "`method`", (("i.png", png(), "image/png"),)),
    Case("prompt at max length", "imagine", {"prompt": "a" * 1500}, None),
    Case("prompt over max length", "imagine", {"prompt": "a" * 1501}, "`prompt`"),
    Case("prompt 10k", "imagine", {"prompt": "a" * 10_000}, "`prompt`"),
    Case("negative over max", "imagine", {"prompt": "p", "negative": "n" * 5000}, "`negative`"),
]


async def test_parameter_bounds(bot: BotUnderTest) -> None:
    assert await _run(bot, BOUND_CASES) == []


# --- hostile strings ---------------------------------------------------------------------------------

HOSTILE_STRINGS = {
    "nul": ("a\x00b", "`prompt`"),
    "bell": ("ding\x07", "`prompt`"),
    "escape": ("\x1b[31mred", "`prompt`"),
    "backspace": ("abc\x08", "`prompt`"),
    "del char": ("x\x7f", "`prompt`"),
    "c1 control": ("x\x85y", "`prompt`"),
    "newlines": ("line one\nline two\n\nthree", None),
    "tabs": ("a\tb", None),
    "json graph": ('{"3": {"class_type": "SaveImage", "inputs": {}}}', None),
    "placeholder": ("{{prompt}} ${seed} %prompt% {0}", None),
    "sql": ("'); DROP TABLE jobs; --", None),
    "html": ("<script>alert(1)</script>", None),
    "everyone": ("@everyone @here <@&123>", None),
    "markdown": ("**bold** `code` ||spoiler|| > quote", None),
    "rtl override": ("abc\u202edcba", None),
    "zero width": ("a\u200bb\u200dc\ufeff", None),
    "zalgo": ("Z\u0351\u0352\u0353a\u0354\u0355l\u0356g\u0357o", None),
    "emoji": ("🦊🔥" * 100, None),
    "astral": ("𝕳𝖊𝖑𝖑𝖔", None),
    "lone surrogate escaped": ("\\ud800", None),
    "only spaces": ("     ", "`prompt`"),
    "path": ("../../../../etc/passwd", None),
    "url": ("http://127.0.0.1:8188/interrupt", None),
    "long word": ("x" * 1500, None),
    "carriage return": ("a\r\nb", "`prompt`"),
    "backslashes": ("\\\\server\\share\\", None),
    "format spec": ("%s %d %n {!r}", None),
}


async def test_hostile_strings_are_refused_or_arrive_verbatim(bot: BotUnderTest, fake_comfy) -> None:
    cases = [
        Case(f"prompt {name}", "imagine", {"prompt": text}, expect)
        for name, (text, expect) in HOSTILE_STRINGS.items()
    ]
    failures = await _run(bot, cases)
    assert failures == [], "\n".join(failures)
    texts = [n["inputs"].get("text") for body in fake_comfy.prompt_requests for n in body["prompt"].values()]
    for name, (text, expect) in HOSTILE_STRINGS.items():
        if expect is None:
            assert text in texts, f"{name} did not arrive byte for byte"
    classes = {n["class_type"] for body in fake_comfy.prompt_requests for n in body["prompt"].values()}
    assert "SaveImage" not in classes, "a prompt never adds graph structure"


# --- malformed manifests, through `comfycord check` ---------------------------------------------------

GRAPH = (Path(__file__).resolve().parents[2] / "workflows" / "invert.json").read_text()
MANIFESTS: dict[str, tuple[str, str, str]] = {
    "bad toml": (GRAPH, "[command\nname = 'x'", "TOML"),
    "ui export": ('{"nodes": [], "links": [], "version": 0.4}', "", "Save (API format)"),
    "bad json": ("{not json", "", "JSON"),
    "unknown node": (GRAPH, "[params.x]\ntype = 'int'\ntarget = '99.value'\ndefault = 1", "99"),
    "unknown input": (GRAPH, "[params.x]\ntype = 'int'\ntarget = '2.nope'\ndefault = 1", "nope"),
    "bad name": (GRAPH, "[command]\nname = 'Bad Name!'", "name"),
    "long description": (GRAPH, "[command]\ndescription = '" + "d" * 150 + "'", "100"),
    "default out of bounds": (
        GRAPH,
        "[params.x]\ntype = 'int'\ntarget = '2.image'\nmin = 1\nmax = 2\ndefault = 9",
        "x",
    ),
    "unknown type": (GRAPH, "[params.x]\ntype = 'colour'\ntarget = '1.image'", "colour"),
    "too many choices": (
        GRAPH,
        "[params.m]\ntype = 'choice'\ntarget = '1.image'\nchoices = {"
        + ", ".join(f"c{i} = 'v{i}'" for i in range(30))
        + "}",
        "25",
    ),
    "empty graph": ("{}", "", "no nodes"),
    "array graph": ("[]", "", ""),
}


@pytest.mark.parametrize("name", sorted(MANIFESTS))
async def test_malformed_manifests_are_reported_by_check(name: str, tmp_path: Path, capsys) -> None:
    graph, manifest, fragment = MANIFESTS[name]
    (tmp_path / "broken.json").write_text(graph)
    if manifest:
        (tmp_path / "broken.toml").write_text(manifest)
    settings = load_settings({"WORKFLOWS_DIR": str(tmp_path)}, require_discord=False)
    code = await run_check(settings, [])
    out = capsys.readouterr().out
    assert code == 1
    assert "broken." in out
    assert fragment.lower() in out.lower()


# --- a misbehaving image server, through the real command path ---------------------------------------

BACKEND_FAULTS: dict[str, tuple[dict[str, Any], str]] = {
    "runtime error": (
        {"class_type": "KSampler", "exception_type": "RuntimeError", "message": "CUDA out of memory"},
        "CUDA out of memory",
    ),
    "error with server path": (
        {
            "class_type": "VAEDecode",
            "exception_type": "OSError",
            "message": "cannot open '/opt/comfyui/models/vae/x.pt'",
        },
        "cannot open 'x.pt'",
    ),
    "huge error message": (
        {"class_type": "KSampler", "exception_type": "ValueError", "message": "boom " * 3000},
        "boom",
    ),
    "markdown and mentions": (
        {"class_type": "KSampler", "exception_type": "Exception", "message": "@everyone **bad** <@&1>"},
        "@everyone",
    ),
    "empty message": ({"class_type": "KSampler", "exception_type": "KeyError", "message": ""}, "KeyError"),
    "unicode message": (
        {"class_type": "KSampler", "exception_type": "Exception", "message": "😵 Ошибка"},
        "Ошибка",
    ),
}


@pytest.mark.parametrize("name", sorted(BACKEND_FAULTS))
async def test_backend_failures_end_with_a_clear_reason(name: str, bot: BotUnderTest, fake_comfy) -> None:
    await _relaxed(bot)
    spec, shown = BACKEND_FAULTS[name]
    fake_comfy.fail_node(spec["class_type"], spec["exception_type"], spec["message"], times=1)
    record = await bot.fake.slash("imagine", {"prompt": "p"})
    job_id = job_id_of(await status_of(bot.fake, record))
    failed = await bot.wait_job(job_id, JobState.FAILED)
    assert spec["class_type"] in failed.failure_reason

    def ended() -> Any:
        message = bot.fake.message(record.original_message.id)
        return message if message.embeds and message.embeds[0].get("title") == "Failed" else None

    message = await bot.fake.wait_for(ended)
    why = next(f["value"] for f in message.embeds[0]["fields"] if f["name"] == "Why")
    assert shown in why
    assert len(why) <= 1024
    assert message.allowed_mentions_safe if hasattr(message, "allowed_mentions_safe") else True
    assert await _run(bot, []) == []


async def test_flaky_backend_answers_are_retried(bot: BotUnderTest, fake_comfy) -> None:
    await _relaxed(bot)
    fake_comfy.fail_next_prompts = 2  # two HTML 500 pages in answer to POST /prompt
    record = await bot.fake.slash("imagine", {"prompt": "p"})
    job = await bot.wait_job(job_id_of(await status_of(bot.fake, record)), JobState.DELIVERED)
    assert job.attempts == 3


# === Hostile files, workflows and server messages (issue 12) =============================================
#
# Cases that read a large or strange file run the real `comfycord` in a child process, measured: exit
# code, the exact line it prints, wall time and peak memory (each under MEMORY_CEILING_MB). Set
# COMFYCORD_CORPUS_STATS=<file> to collect the figures of every case.

BUNDLED = Path(__file__).resolve().parents[2] / "workflows"
BUNDLED_COUNT = "6 template(s) in"
INVERT_JSON = (BUNDLED / "invert.json").read_text()
GIB_1_5 = 1_610_612_736


def _sparse(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)  # no disk, no time: only the size says 1.5 GB
    return path


def _grey16(path: Path, level: int = 32896, size: tuple[int, int] = (32, 32)) -> Path:
    Image.new("I;16", size, level).save(path, format="PNG")
    return path


@dataclass(frozen=True)
class FolderCase:
    """One hostile thing in a copy of the bundled workflows, and the exact line `check` prints for it."""

    name: str
    make: Any  # (folder, scratch) -> None
    line: str


def _write(name: str, content: str | bytes) -> Any:
    def make(folder: Path, _: Path) -> None:
        target = folder / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)

    return make


def _with_invert(stem: str, manifest: str) -> Any:
    def make(folder: Path, _: Path) -> None:
        (folder / f"{stem}.json").write_text(INVERT_JSON)
        (folder / f"{stem}.toml").write_text(manifest)

    return make


def _ring(count: int) -> str:
    nodes = {
        str(i): {"class_type": "ImageInvert", "inputs": {"image": [str((i - 1) % count), 0]}}
        for i in range(count)
    }
    return json.dumps(nodes, separators=(",", ":"))


FOLDER_CASES = [
    FolderCase(
        "workflow of 1.5 GB",
        lambda folder, _: _sparse(folder / "huge.json", GIB_1_5),
        "huge.json: not read: it is 1.50 GiB; the limit is 4.0 MiB (the WORKFLOW_MAX_MB setting)",
    ),
    FolderCase(
        "workflow linked to /dev/zero",
        lambda folder, _: (folder / "zero.json").symlink_to("/dev/zero"),
        "zero.json: not read: it is a link to a file outside the folder; copy the file into the folder "
        "instead",
    ),
    FolderCase(
        "workflow linked out of the folder",
        lambda folder, scratch: (
            (scratch / "x.json").write_text(INVERT_JSON),
            (folder / "away.json").symlink_to(scratch / "x.json"),
        ),
        "away.json: not read: it is a link to a file outside the folder; copy the file into the folder "
        "instead",
    ),
    FolderCase(
        "workflow that is a FIFO",
        lambda folder, _: os.mkfifo(folder / "pipe.json"),
        "pipe.json: not read: it is a named pipe (FIFO), not a regular file",
    ),
    FolderCase(
        "manifest that is a FIFO",
        lambda folder, _: ((folder / "piped.json").write_text(INVERT_JSON), os.mkfifo(folder / "piped.toml")),
        "piped.toml: not read: it is a named pipe (FIFO), not a regular file",
    ),
    FolderCase(
        "4 MiB of nested JSON arrays",
        _write("deep.json", "[" * (2 << 20) + "]" * (2 << 20)),
        "deep.json: invalid JSON: it is nested too deeply",
    ),
    FolderCase(
        "4 MiB of nested TOML arrays",
        _with_invert("deeptoml", "x = " + "[" * (2 << 20 - 3) + "]" * (2 << 20 - 3)),
        "deeptoml.toml: invalid TOML: it is nested too deeply",
    ),
    FolderCase(
        "a 60,000-node cycle in 4 MiB",
        _write("ring.json", _ring(60_000)),
        "ring.json: nodes 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ... (60000 nodes in all) form a cycle "
        "(0 -> 1 -> 2 -> 3 -> 4 -> 5 -> 6 -> 7 -> 8 -> 9 -> 10 -> ... (60000 nodes in all), each feeding "
        "the next); a workflow must flow one way",
    ),
    FolderCase(
        "two nodes feeding each other",
        _write(
            "cycle.json",
            json.dumps(
                {
                    "1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
                    "2": {"class_type": "ImageBlend", "inputs": {"image1": ["1", 0], "image2": ["3", 0]}},
                    "3": {"class_type": "ImageInvert", "inputs": {"image": ["2", 0]}},
                    "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0]}},
                }
            ),
        ),
        "cycle.json: nodes 2, 3 form a cycle (2 -> 3 -> 2, each feeding the next); a workflow must flow "
        "one way",
    ),
    FolderCase(
        "NaN in a workflow",
        _write("nan.json", INVERT_JSON.replace('"upscale_method": "nearest-exact"', '"upscale_method": NaN')),
        "nan.json: invalid JSON: NaN is not a JSON number",
    ),
]


async def _check(case: str, folder: Path, cwd: Path, **env: str) -> Any:
    return await run_measured(
        case, comfycord("check"), env=cli_env(WORKFLOWS_DIR=str(folder), **env), cwd=cwd, timeout=60
    )


@pytest.mark.parametrize("case", FOLDER_CASES, ids=[c.name for c in FOLDER_CASES])
async def test_hostile_workflow_folder_through_check(case: FolderCase, tmp_path: Path) -> None:
    folder, scratch = tmp_path / "workflows", tmp_path / "scratch"
    shutil.copytree(BUNDLED, folder)
    scratch.mkdir()
    case.make(folder, scratch)
    result = await _check(f"check: {case.name}", folder, tmp_path)
    assert result.code == 1, result.err
    assert result.out.splitlines()[0].startswith(BUNDLED_COUNT), "every bundled template still loads"
    assert f"  - {case.line}" in result.out.splitlines()
    assert result.out.count("\n  - ") == 1, "exactly one problem: that file's"
    assert result.err == ""
    assert result.peak_mb < MEMORY_CEILING_MB


async def test_the_workflow_size_limit_is_a_setting(tmp_path: Path) -> None:
    result = await _check("check: WORKFLOW_MAX_MB=0.001", BUNDLED, tmp_path, WORKFLOW_MAX_MB="0.001")
    assert result.code == 1
    size = (BUNDLED / "imagine.json").stat().st_size
    assert (
        f"  - imagine.json: not read: it is {size / 1024:.1f} KiB; the limit is 1.0 KiB "
        "(the WORKFLOW_MAX_MB setting)"
    ) in result.out.splitlines()


def _hostile_folder(tmp_path: Path) -> Path:
    """The bundled workflows plus one of each kind of bad file."""
    folder = tmp_path / "workflows"
    shutil.copytree(BUNDLED, folder)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    for case in FOLDER_CASES:
        if "cycle in 4 MiB" not in case.name:  # the big ones once is enough
            case.make(folder, scratch)
    return folder


async def test_doctor_names_every_bad_file_and_checks_the_rest(tmp_path: Path, fake_comfy) -> None:
    folder = _hostile_folder(tmp_path)
    result = await run_measured(
        "doctor: hostile folder",
        comfycord("doctor"),
        env=cli_env(
            WORKFLOWS_DIR=str(folder), COMFYUI_URLS=fake_comfy.base_url, DATA_DIR=str(tmp_path / "d")
        ),
        cwd=tmp_path,
    )
    assert result.code == 1
    assert "ok       6 template(s) in" in result.out
    for case in FOLDER_CASES:
        if "cycle in 4 MiB" not in case.name:
            assert f"PROBLEM  {case.line}" in result.out, case.name
    assert result.peak_mb < MEMORY_CEILING_MB


async def test_generate_runs_a_good_template_beside_bad_files(tmp_path: Path, fake_comfy) -> None:
    folder = _hostile_folder(tmp_path)
    image = _grey16(tmp_path / "g.png")
    result = await run_measured(
        "generate: good template in a hostile folder",
        comfycord("generate", "invert", "--image", f"image={image}", "--out", "o", "--json"),
        env=cli_env(WORKFLOWS_DIR=str(folder), COMFYUI_URLS=fake_comfy.base_url, COMFYUI_TIMEOUT="5"),
        cwd=tmp_path,
    )
    assert result.code == 0, result.err
    assert result.err == ""
    assert json.loads(result.out)["status"] == "succeeded"
    assert len(list((tmp_path / "o").glob("invert-*.png"))) == 1


# --- `comfycord generate`: flags and images, each checked before anything is submitted ---------------


@dataclass(frozen=True)
class GenerateCase:
    name: str
    args: tuple[str, ...]  # "{tmp}" is the test's folder
    make: Any  # (tmp) -> None: the files the arguments name
    line: str  # the exact stderr line ("{tmp}" replaced)


def _nothing(_: Path) -> None:
    return None


def _file(name: str, content: bytes) -> Any:
    return lambda tmp: (tmp / name).write_bytes(content)


def _png_file(name: str, mode: str = "RGB", size: tuple[int, int] = (32, 32)) -> Any:
    return lambda tmp: Image.new(mode, size).save(tmp / name, format="PNG")


IMAGE = ("--image", "image={tmp}/in.png")
GENERATE_CASES = [
    GenerateCase(
        "--out names an existing file",
        ("invert", *IMAGE, "--out", "{tmp}/taken.txt"),
        lambda tmp: ((tmp / "taken.txt").write_text("mine"), _png_file("in.png")(tmp)),
        "error: --out {tmp}/taken.txt: is a file, not a folder; name a folder (it is created if it is "
        "missing)",
    ),
    GenerateCase(
        "--out below a file",
        ("invert", *IMAGE, "--out", "{tmp}/taken.txt/sub"),
        lambda tmp: ((tmp / "taken.txt").write_text("mine"), _png_file("in.png")(tmp)),
        "error: --out {tmp}/taken.txt/sub: cannot be created, because {tmp}/taken.txt is a file",
    ),
    GenerateCase(
        "--out is a dangling link",
        ("invert", *IMAGE, "--out", "{tmp}/gone"),
        lambda tmp: ((tmp / "gone").symlink_to(tmp / "nowhere"), _png_file("in.png")(tmp)),
        "error: --out {tmp}/gone: is a link to nothing",
    ),
    GenerateCase(
        "--set with underscores",
        ("imagine", "--set", "prompt=x", "--set", "steps=1_0"),
        _nothing,
        "error: `steps`: must be a whole number written with the digits 0-9 (got '1_0')",
    ),
    GenerateCase(
        "--set with Arabic-Indic digits",
        ("imagine", "--set", "prompt=x", "--set", "steps=٣٠"),
        _nothing,
        "error: `steps`: must be a whole number written with the digits 0-9 (got '٣٠')",
    ),
    GenerateCase(
        "--set a float just past the maximum",
        ("invert", *IMAGE, "--set", "scale=4.0000001"),
        _png_file("in.png"),
        "error: `scale`: must be between 0.25 and 4 (got 4.0000001)",
    ),
    GenerateCase(
        "--set nan",
        ("imagine", "--set", "prompt=x", "--set", "cfg=nan"),
        _nothing,
        "error: `cfg`: must be a finite number (got 'nan')",
    ),
    GenerateCase(
        "--set 1e999",
        ("imagine", "--set", "prompt=x", "--set", "cfg=1e999"),
        _nothing,
        "error: `cfg`: is far too large (got '1e999')",
    ),
    GenerateCase(
        "--image of 1.5 GB",
        ("invert", "--image", "image={tmp}/huge.png"),
        lambda tmp: _sparse(tmp / "huge.png", GIB_1_5),
        "error: --image image: {tmp}/huge.png is 1.50 GiB; the limit is 25.0 MiB",
    ),
    GenerateCase(
        "--image of 20 MB of text",
        ("invert", "--image", "image={tmp}/notes.png"),
        _file("notes.png", b"dear diary\n" * 1_900_000),
        "error: --image image: {tmp}/notes.png is not an image I can read (it does not start like a PNG, "
        "JPEG, WebP, GIF or BMP file)",
    ),
    GenerateCase(
        "--image that is a FIFO",
        ("invert", "--image", "image={tmp}/pipe.png"),
        lambda tmp: os.mkfifo(tmp / "pipe.png"),
        "error: --image image: {tmp}/pipe.png is a named pipe (FIFO), not a regular file",
    ),
    GenerateCase(
        "--image /dev/zero",
        ("invert", "--image", "image=/dev/zero"),
        _nothing,
        "error: --image image: /dev/zero is a character device, not a regular file",
    ),
    GenerateCase(
        "--image a folder",
        ("invert", "--image", "image={tmp}"),
        _nothing,
        "error: --image image: {tmp} is a folder, not a regular file",
    ),
    GenerateCase(
        "--image a 20000x8 strip",
        ("invert", "--image", "image={tmp}/strip.png"),
        _file("strip.png", _bomb(20_000, 8)),
        "error: --image image: The file {tmp}/strip.png is 20000x8 pixels; each side may be at most 4,096 "
        "pixels. Crop or shrink it and send it again.",
    ),
    GenerateCase(
        "--image a TIFF",
        ("invert", "--image", "image={tmp}/scan.tif"),
        _file("scan.tif", _encoded("TIFF")),
        "error: --image image: {tmp}/scan.tif is not an image I can read (it does not start like a PNG, "
        "JPEG, WebP, GIF or BMP file)",
    ),
]


@pytest.mark.parametrize("case", GENERATE_CASES, ids=[c.name for c in GENERATE_CASES])
async def test_generate_refuses_before_submitting(case: GenerateCase, tmp_path: Path, fake_comfy) -> None:
    case.make(tmp_path)
    args = [a.replace("{tmp}", str(tmp_path)) for a in case.args]
    result = await run_measured(
        f"generate: {case.name}",
        comfycord("generate", *args),
        env=cli_env(WORKFLOWS_DIR=str(BUNDLED), COMFYUI_URLS=fake_comfy.base_url, COMFYUI_TIMEOUT="5"),
        cwd=tmp_path,
    )
    assert result.code == 2, result.err
    assert result.err.splitlines() == [case.line.replace("{tmp}", str(tmp_path))]
    assert fake_comfy.prompt_requests == [], "nothing was submitted"
    assert result.peak_mb < MEMORY_CEILING_MB


async def test_generate_with_a_16_bit_grey_image_sends_grey_not_white(tmp_path: Path, fake_comfy) -> None:
    result = await run_measured(
        "generate: 16-bit grey PNG",
        comfycord("generate", "invert", "--image", f"image={_grey16(tmp_path / 'grey.png')}", "--out", "o"),
        env=cli_env(WORKFLOWS_DIR=str(BUNDLED), COMFYUI_URLS=fake_comfy.base_url, COMFYUI_TIMEOUT="5"),
        cwd=tmp_path,
    )
    assert result.code == 0, result.err
    (uploaded,) = (fake_comfy.input_dir / "comfycord").glob("*.png")
    with Image.open(uploaded) as image:
        assert (image.mode, image.getpixel((0, 0))) == ("L", 128)  # 32896 / 257; clipping gave 255
    (saved,) = (tmp_path / "o").glob("*.png")
    with Image.open(saved) as image:
        assert 126 <= image.convert("L").getpixel((0, 0)) <= 128  # inverted grey; clipped white gives 0


async def test_generate_ends_with_one_line_when_the_results_cannot_be_saved(
    tmp_path: Path, fake_comfy
) -> None:
    """`--out` was fine when checked; by the time the images arrive it is a file. The engine would retry
    for ten minutes: the CLI ends the run instead."""
    fake_comfy.step_delay = 0.2
    out = tmp_path / "out"
    run = asyncio.ensure_future(
        run_measured(
            "generate: results cannot be saved",
            comfycord("generate", "imagine", "--set", "prompt=x", "--set", "steps=5", "--out", str(out)),
            env=cli_env(WORKFLOWS_DIR=str(BUNDLED), COMFYUI_URLS=fake_comfy.base_url, COMFYUI_TIMEOUT="5"),
            cwd=tmp_path,
        )
    )
    deadline = time.monotonic() + 30
    while not fake_comfy.prompt_requests and not run.done():
        assert time.monotonic() < deadline, "the job was never submitted"
        await asyncio.sleep(0.01)
    out.write_text("someone else's file")  # the run takes 5 x 0.2 s more: its delivery comes after this
    result = await run
    assert result.code == 1
    assert "Traceback" not in result.err
    errors = [line for line in result.err.splitlines() if line.startswith("error")]
    assert errors == [result.err.splitlines()[-1]], "one error line, the last thing printed"
    (line,) = errors
    assert re.fullmatch(
        rf"error: job \w+ ran, but could not save the results to {re.escape(str(out))}: File exists", line
    )
    assert out.read_text() == "someone else's file"
    assert result.seconds < 30, "no back-off retries"


# --- attachments of every kind through Discord ---------------------------------------------------------


def _saved(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _palette(transparent: bool) -> bytes:
    image = Image.new("P", (24, 24), 1)
    image.putpalette([0, 0, 0, 255, 0, 0])
    return _saved(image, "PNG", **({"transparency": 0} if transparent else {}))


MODE_CASES = [
    Case(
        "16-bit grey png",
        "invert",
        {},
        None,
        (("g.png", _saved(Image.new("I;16", (24, 24), 40000), "PNG"), "image/png"),),
    ),
    Case(
        "16-bit grey png with a transparent level",
        "invert",
        {},
        None,
        (("g.png", _saved(Image.new("I;16", (24, 24), 40000), "PNG", transparency=40000), "image/png"),),
    ),
    Case(
        "1-bit png", "invert", {}, None, (("b.png", _saved(Image.new("1", (24, 24), 1), "PNG"), "image/png"),)
    ),
    Case("palette png", "invert", {}, None, (("p.png", _palette(False), "image/png"),)),
    Case("palette png with transparency", "invert", {}, None, (("p.png", _palette(True), "image/png"),)),
    Case(
        "grey+alpha png",
        "invert",
        {},
        None,
        (("la.png", _saved(Image.new("LA", (24, 24), (9, 99)), "PNG"), "image/png"),),
    ),
    Case(
        "cmyk jpeg",
        "invert",
        {},
        None,
        (("c.jpg", _saved(Image.new("CMYK", (24, 24), (0, 255, 255, 0)), "JPEG"), "image/jpeg"),),
    ),
    Case(
        "1-bit bmp", "invert", {}, None, (("b.bmp", _saved(Image.new("1", (24, 24), 1), "BMP"), "image/bmp"),)
    ),
    Case(
        "webp with alpha",
        "invert",
        {},
        None,
        (("w.webp", _saved(Image.new("RGBA", (24, 24), (1, 2, 3, 4)), "WEBP", lossless=True), "image/webp"),),
    ),
    Case(
        "mask with alpha",
        "inpaint",
        {"prompt": "p"},
        None,
        (
            ("i.png", png(), "image/png"),
            ("m.png", _saved(Image.new("RGBA", (64, 48), (0, 0, 0, 0)), "PNG"), "image/png"),
        ),
    ),
    Case(
        "strip 20000x8",
        "invert",
        {},
        "is 20000x8 pixels; each side may be at most 4,096 pixels",
        (("s.png", _bomb(20_000, 8), "image/png"),),
    ),
    Case(
        "strip 8x20000",
        "invert",
        {},
        "is 8x20000 pixels; each side may be at most 4,096 pixels",
        (("s.png", _bomb(8, 20_000), "image/png"),),
    ),
    Case(
        "strip 4097x1",
        "invert",
        {},
        "is 4097x1 pixels; each side may be at most 4,096 pixels",
        (("s.png", _bomb(4097, 1), "image/png"),),
    ),
    Case(
        "mask strip",
        "inpaint",
        {"prompt": "p"},
        "`mask` attachment (m.png) is 9000x9",
        (("i.png", png(), "image/png"), ("m.png", _bomb(9000, 9), "image/png")),
    ),
    Case(
        "scale typed past the maximum",
        "invert",
        {"scale": 4.0000001},
        "`scale`: must be between 0.25 and 4 (got 4.0000001)",
        (("i.png", png(), "image/png"),),
    ),
    Case(
        "cfg typed past the maximum",
        "imagine",
        {"prompt": "p", "cfg": 15.000001},
        "`cfg`: must be between 1 and 15 (got 15.000001)",
    ),
]


async def test_every_image_mode_and_aspect_through_discord(bot: BotUnderTest, fake_comfy) -> None:
    failures = await _run(bot, MODE_CASES)
    assert failures == [], "\n".join(failures)
    # The 16-bit grey arrived at ComfyUI as grey (40000 / 257 = 156), not clipped to white.
    levels = set()
    for path in (fake_comfy.input_dir / "comfycord").glob("*.png"):
        with Image.open(path) as image:
            if image.mode in ("L", "LA"):
                levels.add(image.convert("L").getpixel((0, 0)))
    assert 156 in levels
    assert 255 in levels  # the 1-bit image: white stays white


# --- server messages with paths of every kind -------------------------------------------------------------

PATH_FAULTS: dict[str, tuple[str, str, str]] = {
    # name: (exception message, what the member reads, what must not show)
    "single segment (ComfyUI 0.3.64)": (
        "Saving image outside the output folder is not allowed.\n commonpath: /tmp\n"
        " output_dir: /opt/c/output",
        "commonpath: [path]",
        "/tmp",
    ),
    "windows": (r"cannot open C:\Users\Bob\ComfyUI\models\vae\x.pt", "cannot open x.pt", "Bob"),
    "unc": (r"\\nas-01\models\loras\style.safetensors is offline", "style.safetensors is offline", "nas-01"),
    "home": ("~comfy/ComfyUI/models/y.pt missing", "y.pt missing", "comfy/"),
    "spaces and quotes": (
        "No such file: '/home/comfy user/models/sd 1.5.ckpt'",
        "No such file: 'sd 1.5.ckpt'",
        "comfy user",
    ),
    "url with credentials": (
        "download https://bob:hunter2@hf.co/m/resolve/x.safetensors?token=t failed",
        "download https://hf.co/…/x.safetensors failed",
        "hunter2",
    ),
}


@pytest.mark.parametrize("name", sorted(PATH_FAULTS))
async def test_server_paths_never_reach_a_member(name: str, bot: BotUnderTest, fake_comfy) -> None:
    await _relaxed(bot)
    message, shown, hidden = PATH_FAULTS[name]
    fake_comfy.fail_node("KSampler", "Exception", message, times=1)
    record = await bot.fake.slash("imagine", {"prompt": "p"})
    job_id = job_id_of(await status_of(bot.fake, record))
    failed = await bot.wait_job(job_id, JobState.FAILED)
    assert shown in failed.failure_reason
    assert hidden not in failed.failure_reason

    def ended() -> Any:
        posted = bot.fake.message(record.original_message.id)
        return posted if posted.embeds and posted.embeds[0].get("title") == "Failed" else None

    posted = await bot.fake.wait_for(ended)
    why = next(f["value"] for f in posted.embeds[0]["fields"] if f["name"] == "Why")
    assert shown in why
    assert hidden not in why
    assert await _run(bot, []) == []


# --- the largest images the limits let through, measured ----------------------------------------------


def _max_grey16(path: Path) -> Path:
    """4096x4096 16-bit grey with detail everywhere: the mode that needs the most memory to convert."""
    grain = Image.new("L", (4096, 4096), 128)
    grain.paste(Image.effect_noise((4096, 3000), 60), (0, 0))  # as much detail as 25 MiB holds
    grain.convert("I").point(lambda v: v * 257).convert("I;16").save(path, format="PNG", compress_level=1)
    return path


def _max_rgba(path: Path) -> Path:
    """4096x4096 RGBA whose PNG is close to the 25 MiB file limit."""
    grain = Image.new("L", (4096, 4096), 90)
    grain.paste(Image.effect_noise((4096, 1400), 100), (0, 0))
    Image.merge("RGBA", (grain, grain, grain.rotate(180), grain)).save(path, format="PNG", compress_level=1)
    return path


@pytest.mark.parametrize("make", [_max_grey16, _max_rgba], ids=["16-bit grey 4096x4096", "RGBA 4096x4096"])
async def test_the_largest_accepted_images_stay_under_the_memory_ceiling(make: Any, tmp_path: Path) -> None:
    image = make(tmp_path / "big.png")
    assert image.stat().st_size < 25 * 1024 * 1024
    result = await run_measured(
        f"generate: largest image, {make.__name__}",
        comfycord("generate", "invert", "--image", f"image={image}"),
        # No server to reach: the image is read and converted, then the run ends for want of a backend.
        env=cli_env(WORKFLOWS_DIR=str(BUNDLED), COMFYUI_URLS="http://127.0.0.1:9", COMFYUI_TIMEOUT="1"),
        cwd=tmp_path,
    )
    assert result.code == 1
    assert result.err.splitlines()[-1].startswith("error: could not reach ComfyUI at 127.0.0.1:9")
    assert result.peak_mb < MEMORY_CEILING_MB
