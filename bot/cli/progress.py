"""A one-line terminal progress display for a job: node, step k/n, overall percent."""

from __future__ import annotations

from typing import TextIO

from bot.jobmodel.states import JobState
from bot.jobs.updates import JobUpdate

BAR_WIDTH = 24


def describe(update: JobUpdate) -> str:
    """The progress line's text (no terminal control characters)."""
    state = update.state
    if state is JobState.QUEUED:
        where = f"position {update.position + 1}" if update.position is not None else "waiting"
        return f"queued ({where})" + (f": {update.waiting_reason}" if update.waiting_reason else "")
    if state in (JobState.DISPATCHED, JobState.RUNNING):
        overall = update.overall or 0.0
        filled = round(overall * BAR_WIDTH)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        node = update.node or ("waiting on " + (update.backend or update.job.backend or "backend"))
        step = f" step {update.step}/{update.steps}" if update.step is not None and update.steps else ""
        return f"[{bar}] {overall * 100:3.0f}% {node}{step}"
    return state.value.replace("_", " ")


class ProgressLine:
    """Redraws one line on a terminal; prints a line per change of state when not a terminal."""

    def __init__(self, stream: TextIO, *, enabled: bool = True) -> None:
        self._stream = stream
        self._enabled = enabled
        self._tty = stream.isatty()
        self._last = ""
        self._seq = 0

    def show(self, update: JobUpdate) -> None:
        if not self._enabled or (update.seq and update.seq < self._seq):
            return  # never show an older state after a newer one
        self._seq = max(self._seq, update.seq)
        text = describe(update)
        if text == self._last:
            return
        if self._tty:
            self._stream.write("\r\x1b[2K" + text[:120])
        elif text.split(" ", 1)[0] != self._last.split(" ", 1)[0] or update.step == update.steps:
            self._stream.write(text + "\n")
        self._last = text
        self._stream.flush()

    def close(self) -> None:
        if self._enabled and self._tty and self._last:
            self._stream.write("\n")
            self._stream.flush()
