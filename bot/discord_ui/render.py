"""What a job's status message says at each stage (pure: JobUpdate in, embed and text out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import discord

from bot.jobmodel.model import Job
from bot.jobmodel.states import JobState
from bot.jobs.updates import JobUpdate

BAR = 16
COLOURS = {
    "waiting": discord.Colour.light_grey(),
    "running": discord.Colour.blurple(),
    "done": discord.Colour.green(),
    "failed": discord.Colour.red(),
    "stopped": discord.Colour.dark_grey(),
}
STATE_WORDS: Final = {
    JobState.PENDING_REVIEW: "waiting for review",
    JobState.QUEUED: "queued",
    JobState.DISPATCHED: "starting",
    JobState.RUNNING: "running",
    JobState.SUCCEEDED: "posting",
    JobState.HELD: "held for a moderator",
    JobState.RELEASED: "posting",
    JobState.DELIVERED: "done",
    JobState.WITHHELD: "withheld",
    JobState.REJECTED: "rejected",
    JobState.CANCELLED: "cancelled",
    JobState.FAILED: "failed",
}
"""A job's state in a few words, for lists (/queue, /jobs, /mod queue)."""
ON_A_BACKEND: Final = frozenset(
    {
        JobState.DISPATCHED,
        JobState.RUNNING,
        JobState.SUCCEEDED,
        JobState.HELD,
        JobState.RELEASED,
        JobState.DELIVERED,
        JobState.WITHHELD,
        JobState.FAILED,
    }
)
"""States in which a list says where the job runs or ran ("running on GPU 1")."""
NOTABLE = ("steps", "cfg", "size", "width", "height", "denoise", "sampler", "checkpoint", "batch_size")


def progress_bar(fraction: float) -> str:
    filled = max(0, min(BAR, round(fraction * BAR)))
    return "▰" * filled + "▱" * (BAR - filled)


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def state_words(job: Job, backend_name: str | None = None) -> str:
    """The job's state for a list line, with the backend's display name where it matters."""
    words = STATE_WORDS[job.state]
    if backend_name and job.state in ON_A_BACKEND:
        return f"{words} on {backend_name}"
    return words


def prompt_of(params: Mapping[str, Any]) -> str | None:
    value = params.get("prompt")
    return value if isinstance(value, str) else None


def _base(job: Job, colour: str, title: str) -> discord.Embed:
    embed = discord.Embed(title=_clip(title, 256), colour=COLOURS[colour])
    prompt = prompt_of(job.params)
    if prompt:
        embed.description = _clip(prompt, 1000)
    embed.set_footer(text=f"job {job.id} · /{job.template}")
    return embed


def status_embed(
    update: JobUpdate, *, previews: bool = True, backend_name: str | None = None
) -> discord.Embed:
    """The embed for a job on its way (queued, under review, running) or ended without results.

    ``backend_name`` is the display name of the job's backend (``BackendPool.display_name``). The
    job's own ``backend`` is an address and is never shown.
    """
    job = update.job
    state = job.state
    if state is JobState.PENDING_REVIEW:
        embed = _base(job, "waiting", "Waiting for a moderator to review this request")
    elif state is JobState.QUEUED:
        embed = _base(job, "waiting", "Queued")
        if update.waiting_reason:
            embed.add_field(name="Waiting", value=_clip(update.waiting_reason, 1000), inline=False)
        elif update.position is not None:
            ahead = "next in line" if update.position == 0 else f"{update.position} ahead of you"
            eta = f" · about {duration(update.eta_seconds)}" if update.eta_seconds else ""
            embed.add_field(name="Position", value=f"{ahead}{eta}", inline=False)
    elif state in (JobState.DISPATCHED, JobState.RUNNING):
        # Progress from the backend means it runs, even if RUNNING is not persisted yet.
        started = state is JobState.RUNNING or update.node is not None or bool(update.overall)
        title = "Running" if started else "Starting"
        embed = _base(job, "running", f"{title} on {backend_name}" if backend_name else title)
        overall = update.overall or 0.0
        lines = [f"`{progress_bar(overall)}` {overall * 100:.0f}%"]
        if update.node:
            step = f" · step {update.step}/{update.steps}" if update.step is not None and update.steps else ""
            lines.append(f"{update.node}{step}")
        if update.elapsed is not None:
            lines.append(f"elapsed {duration(update.elapsed)}")
        embed.add_field(name="Progress", value="\n".join(lines), inline=False)
        if previews and update.preview is not None:
            embed.set_image(url="attachment://preview.jpg")
    elif state in (JobState.SUCCEEDED, JobState.RELEASED):
        embed = _base(job, "running", "Finishing: posting the results")
    elif state is JobState.HELD:
        embed = _base(job, "waiting", "Waiting for a moderator to check the result")
    elif state is JobState.WITHHELD:
        embed = _base(job, "stopped", "Result withheld")
        embed.add_field(
            name="Why", value=_clip(job.failure_reason or "It was not posted here.", 1000), inline=False
        )
    elif state is JobState.FAILED:
        embed = _base(job, "failed", "Failed")
        embed.add_field(name="Why", value=_clip(job.failure_reason or "Unknown error.", 1000), inline=False)
    elif state is JobState.REJECTED:
        embed = _base(job, "stopped", "Rejected by a moderator")
        if job.failure_reason:
            embed.add_field(name="Reason", value=_clip(job.failure_reason, 1000), inline=False)
    elif state is JobState.CANCELLED:
        embed = _base(job, "stopped", "Cancelled")
        if job.failure_reason and job.failure_reason != "Cancelled.":
            embed.add_field(name="Why", value=_clip(job.failure_reason, 1000), inline=False)
    else:
        embed = _base(job, "done", "Done")
    if job.notice and state in (JobState.QUEUED, JobState.DISPATCHED, JobState.RUNNING):
        attempt = f" (attempt {job.attempts + (state is JobState.QUEUED)})" if job.attempts else ""
        embed.add_field(name=f"Started over{attempt}", value=_clip(job.notice, 1000), inline=False)
    return embed


def _result_facts(job: Job, backend_name: str | None) -> list[tuple[str, str]]:
    """(name, value) pairs every result shows: seed, settings, time taken, backend."""
    facts: list[tuple[str, str]] = []
    seed = next((v for k, v in job.params.items() if "seed" in k and isinstance(v, int)), None)
    if seed is not None:
        facts.append(("Seed", str(seed)))
    notable = [f"{k}: {v}" for k, v in job.params.items() if k in NOTABLE]
    if notable:
        facts.append(("Settings", _clip(", ".join(notable), 1000)))
    if job.started_at and job.finished_at:
        facts.append(("Took", duration(job.finished_at - job.started_at)))
    if backend_name:
        facts.append(("Ran on", backend_name))
    return facts


def result_markdown(
    job: Job, *, notes: Sequence[str] = (), images: int = 0, backend_name: str | None = None
) -> str:
    """The text above a result gallery (components v2 have no embeds): the same facts as
    ``result_embed``, and the job id and command in the last line like an embed's footer."""
    lines = [f"### /{job.template}"]
    prompt = prompt_of(job.params)
    if prompt:
        lines.append(_clip(prompt, 1000))
    negative = job.params.get("negative")
    if isinstance(negative, str) and negative:
        lines.append(f"**Negative** {_clip(negative, 300)}")
    facts = _result_facts(job, backend_name)
    if images > 1:
        facts.append(("Images", str(images)))
    if facts:
        lines.append(" · ".join(f"**{name}** {value}" for name, value in facts))
    if notes:
        lines.append("**Note** " + _clip("; ".join(dict.fromkeys(notes)), 600))
    lines.append(f"-# job {job.id} · /{job.template}")
    return "\n".join(lines)


def result_embed(
    job: Job, *, notes: Sequence[str] = (), images: int = 0, backend_name: str | None = None
) -> discord.Embed:
    """The embed posted with the final images: what was asked and how it ran (and on which backend,
    by its display name)."""
    embed = _base(job, "done", f"/{job.template}")
    negative = job.params.get("negative")
    if isinstance(negative, str) and negative:
        embed.add_field(name="Negative", value=_clip(negative, 1000), inline=False)
    for name, value in _result_facts(job, backend_name):
        embed.add_field(name=name, value=value)
    if images > 1:
        embed.add_field(name="Images", value=str(images))
    if notes:
        embed.add_field(name="Note", value=_clip("; ".join(dict.fromkeys(notes)), 1000), inline=False)
    return embed
