"""A corpus of bad input through the real command path: each case ends in a clear, specific message,
nothing is half-created, and the bot keeps serving (a valid command works after every group).

Discord's client normally enforces option ranges and lengths; a modified client or a raw API call
does not, so the fake's client-side checks are switched off here to send hostile values as-is.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.cli.check import run_check
from bot.config import load_settings
from bot.jobs.states import JobState
from bot.moderation import PolicyStore
from bot.storage import GuildSettingsRepository
from tests.e2e.harness import BotUnderTest, job_id_of, png, private_reply, status_of


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
        record = await bot.fake.slash(case.command, case.options, attachments=list(case.attachments) or None)
        try:
            if case.expect is None:
                message = await status_of(bot.fake, record, timeout=5.0)
                job = await bot.engine.jobs.get(job_id_of(message))
                if job is None or job.state in (JobState.FAILED, JobState.REJECTED):
                    failures.append(f"{case.name}: expected a job, got {job}")
            else:
                reply = await private_reply(bot.fake, record, timeout=3.0)
                if case.expect not in reply.content:
                    failures.append(f"{case.name}: {reply.content!r} lacks {case.expect!r}")
        except Exception as exc:  # collect, so one run reports every broken case
            failures.append(f"{case.name}: {type(exc).__name__}: {exc}")
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
