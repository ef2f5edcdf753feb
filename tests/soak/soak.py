"""Soak with faults: many members' jobs through the real bot process, the fake Discord and several
fake ComfyUI backends, while backends crash and restart, websockets drop, Discord answers 429 storms
and 5xx errors, and the bot itself is SIGKILLed and restarted.

At the end every job must be delivered exactly once or have ended with a reason its member saw,
nothing may be stuck, the bot's memory must stay flat, and its metrics must match the database.
Used by ``bench/soak_bench.py`` (full size) and ``tests/soak/test_soak.py`` (reduced).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import socket
import sqlite3
import sys
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.fakes.comfyui.server import FakeComfyUI
from tests.fakes.discord.server import FakeDiscord

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4." + "G" * 6 + "." + "x" * 38
FINISHED = {"delivered", "failed", "cancelled", "rejected"}
JOB_IN_FOOTER = re.compile(r"job ([0-9A-Z]{8})")


@dataclass
class SoakReport:
    jobs_requested: int = 0
    jobs_created: int = 0
    commands_unanswered: int = 0
    commands_refused: int = 0
    jobs_lost: int = 0
    jobs_duplicated: int = 0
    jobs_stuck: int = 0
    states: dict[str, int] = field(default_factory=dict)
    unseen_endings: int = 0
    kills: int = 0
    backend_restarts: int = 0
    websocket_drops: int = 0
    discord_storms: int = 0
    discord_5xx: int = 0
    discord_429_unprovoked: int = 0
    rss_mb: dict[str, float] = field(default_factory=dict)
    metrics_mismatches: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


async def _seed_policy(data_dir: Path, guild_id: int, jobs: int) -> None:
    """A server tuned for load: no cooldown, no review, limits above what the soak asks."""
    from bot.moderation import PolicyStore
    from bot.storage import Database, GuildSettingsRepository

    data_dir.mkdir(parents=True, exist_ok=True)
    async with await Database.open_in(data_dir) as db:
        store = PolicyStore(GuildSettingsRepository(db))
        for key, value in (
            ("cooldown_seconds", "0"),
            ("max_queued_per_user", "0"),
            ("daily_jobs", str(jobs * 2)),
            ("review_mode", "off"),
        ):
            await store.set_text(guild_id, key, value)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as handle:
        return round(int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


class BotProcess:
    """Starts, kills and restarts ``tests.soak.bot_process`` with a fixed environment."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None
        self.started_at = 0.0

    async def start(self, fake: FakeDiscord) -> None:
        log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.soak.bot_process", cwd=ROOT, env=self.env, stdout=log, stderr=log
        )
        log.close()
        self.started_at = time.time()
        identified = len(fake.gateway.identifies)
        deadline = time.monotonic() + 20
        # A fresh IDENTIFY, not has_bot(): the fake counts a just-killed session as reconnecting.
        while len(fake.gateway.identifies) == identified:
            if self.proc.returncode is not None:
                raise RuntimeError(f"bot exited with {self.proc.returncode}; see {self.log_path}")
            if time.monotonic() > deadline:
                raise TimeoutError("bot did not connect to the fake Discord")
            await asyncio.sleep(0.02)

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                await self.kill()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


def _db_jobs(path: Path) -> list[sqlite3.Row]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as conn:
        conn.row_factory = sqlite3.Row
        jobs = conn.execute("SELECT id, state, params, updated_at, finished_at FROM jobs").fetchall()
        kinds = conn.execute("SELECT job_id, kind FROM deliveries").fetchall()
    notified = {(r["job_id"], r["kind"]) for r in kinds}
    return [dict(r) | {"notified": (r["id"], "status") in notified} for r in jobs]  # type: ignore[misc]


async def _wait_settled(db: Path, timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        with contextlib.suppress(sqlite3.Error):
            rows = _db_jobs(db)  # type: ignore[assignment]
            if rows and all(
                r["state"] == "delivered" or (r["state"] in FINISHED and r["notified"]) for r in rows
            ):
                return rows
        await asyncio.sleep(0.25)
    return rows


async def _scrape(port: int) -> dict[str, float]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        text = await response.text()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("comfycord_jobs_finished_total{"):
            state = re.search(r'state="(\w+)"', line)
            if state:
                values[state.group(1)] = values.get(state.group(1), 0.0) + float(line.rsplit(" ", 1)[1])
    return values


async def run_soak(
    workdir: Path,
    *,
    jobs: int = 1000,
    users: int = 50,
    backends: int = 3,
    kills: int = 2,
    seed: int = 1,
    step_delay: float = 0.002,
    settle_timeout: float = 240.0,
    pace: float = 0.03,
) -> SoakReport:
    rng = random.Random(seed)
    report = SoakReport(jobs_requested=jobs)
    started = time.monotonic()
    async with AsyncExitStack() as stack:
        fakes = [
            await stack.enter_async_context(FakeComfyUI(step_delay=step_delay, previews=False))
            for _ in range(backends)
        ]
        # A few runs fail on a backend (a node raises): those jobs must end with a reason shown.
        fakes[0].fail_node("VAEDecode", "RuntimeError", "injected soak failure", times=max(1, jobs // 100))
        discord_fake = FakeDiscord()
        await discord_fake.start()
        stack.push_async_callback(discord_fake.stop)
        discord_fake.fail_on_unexpected = False
        members = []
        for n in range(users):
            user = discord_fake.create_user(f"member{n}")
            discord_fake.add_member(discord_fake.guild, user)
            members.append(user)
        # Like a real community: members spread over channels (Discord's edit limits are per channel).
        channels = [
            discord_fake.create_channel(discord_fake.guild, f"art-{n}") for n in range(max(1, users // 5))
        ]
        metrics_port = _free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("COMFYUI_", "DISCORD_"))},
            "PYTHONPATH": str(ROOT),
            "DISCORD_TOKEN": TOKEN,
            "COMFYUI_URLS": ",".join(f.base_url for f in fakes),
            "COMFYUI_TIMEOUT": "5",
            "DATA_DIR": str(workdir / "data"),
            "WORKFLOWS_DIR": str(ROOT / "workflows"),
            "EDIT_INTERVAL": "2",
            "MAX_QUEUED_PER_USER": str(jobs),
            "MAX_QUEUED_TOTAL": str(jobs * 2),
            "METRICS_PORT": str(metrics_port),
            "LOG_LEVEL": "INFO",
            "FAKE_DISCORD_API": discord_fake.api_base,
            "FAKE_DISCORD_GATEWAY": discord_fake.gateway_url,
        }
        await _seed_policy(workdir / "data", int(discord_fake.guild.id), jobs)
        bot = BotProcess(env, workdir / "bot.log")
        stack.push_async_callback(bot.stop)
        await bot.start(discord_fake)
        report.rss_mb["start"] = _rss_mb(bot.pid)
        kill_points = sorted(rng.sample(range(jobs // 5, jobs - jobs // 5), kills)) if kills else []
        records = []
        for n in range(jobs):
            if kill_points and n == kill_points[0]:
                kill_points.pop(0)
                await asyncio.sleep(rng.uniform(0.0, 0.5))
                await bot.kill()
                report.kills += 1
                await asyncio.sleep(0.2)
                await bot.start(discord_fake)
                report.rss_mb["start"] = _rss_mb(bot.pid)
            roll = rng.random()
            if roll < 0.01:
                await rng.choice(fakes).restart(keep_history=rng.random() < 0.5)
                report.backend_restarts += 1
            elif roll < 0.02:
                rng.choice(fakes).hub.drop_all()
                report.websocket_drops += 1
            elif roll < 0.03:
                discord_fake.inject_errors("PATCH /channels/*/messages/*", 429, count=3, retry_after=0.05)
                report.discord_storms += 3
            elif roll < 0.035:
                discord_fake.inject_errors("PATCH /webhooks/*", 503, count=1)
                report.discord_5xx += 1
            user = members[n % users]
            channel = channels[(n % users) % len(channels)]
            records.append(
                await discord_fake.slash(
                    "imagine", {"prompt": f"soak job {n}", "steps": 4}, user=user, channel=channel
                )
            )
            await asyncio.sleep(rng.uniform(0.0, 2 * pace))
        # RSS over the last life of the process: after its start, when all work is in, when settled.
        report.rss_mb["middle"] = _rss_mb(bot.pid)
        last_start = bot.started_at
        rows = await _wait_settled(workdir / "data" / "comfycord.sqlite3", settle_timeout)
        report.rss_mb["end"] = _rss_mb(bot.pid)
        metrics = await _scrape(metrics_port)
        _account(report, rows, records, discord_fake)
        _check_metrics(report, rows, metrics, last_start)
        report.discord_429_unprovoked = max(0, discord_fake.stats.rate_limited - report.discord_storms)
        await bot.stop()
    report.seconds = round(time.monotonic() - started, 1)
    return report


def _account(report: SoakReport, rows: list[dict[str, Any]], records: list[Any], fake: FakeDiscord) -> None:
    import json

    report.jobs_created = len(rows)
    report.states = {}
    for row in rows:
        report.states[row["state"]] = report.states.get(row["state"], 0) + 1
    report.jobs_stuck = sum(1 for r in rows if r["state"] not in FINISHED)
    by_prompt: dict[str, list[str]] = {}
    for row in rows:
        by_prompt.setdefault(json.loads(row["params"]).get("prompt", ""), []).append(row["id"])
    report.jobs_duplicated = sum(len(ids) - 1 for ids in by_prompt.values() if len(ids) > 1)
    result_messages: dict[str, int] = {}
    ending_seen: set[str] = set()
    for message in fake.messages.values():
        if message.deleted or not message.embeds:
            continue
        footer = (message.embeds[0].get("footer") or {}).get("text", "")
        match = JOB_IN_FOOTER.search(footer)
        if not match:
            continue
        job_id = match.group(1)
        if message.attachments:
            result_messages[job_id] = result_messages.get(job_id, 0) + 1
        title = message.embeds[0].get("title", "")
        if title in ("Failed", "Cancelled", "Rejected by a moderator"):
            ending_seen.add(job_id)
    for row in rows:
        if row["state"] == "delivered":
            count = result_messages.get(row["id"], 0)
            if count == 0:
                report.jobs_lost += 1
            elif count > 1:
                report.jobs_duplicated += count - 1
        elif row["state"] in FINISHED and row["id"] not in ending_seen:
            report.unseen_endings += 1
    for n, record in enumerate(records):
        prompt = f"soak job {n}"
        if prompt not in by_prompt and record.response_type is not None:
            # Acknowledged, yet no job: lost unless the member was told why.
            if any(f.ephemeral for f in record.followups):
                report.commands_refused += 1
            else:
                report.jobs_lost += 1
        elif record.response_type is None:
            report.commands_unanswered += 1  # the bot was down: Discord told the member it did not respond


def _check_metrics(
    report: SoakReport, rows: list[dict[str, Any]], metrics: dict[str, float], since: float
) -> None:
    """Counters restart with the process: compare with jobs that ended during its last life."""
    expected: dict[str, int] = {}
    for row in rows:
        if row["state"] in FINISHED and (row["updated_at"] or 0) >= since:
            expected[row["state"]] = expected.get(row["state"], 0) + 1
    for state, count in expected.items():
        got = metrics.get(state, 0.0)
        if abs(got - count) > 0:
            report.metrics_mismatches.append(f"{state}: metrics {got:g} vs database {count}")
