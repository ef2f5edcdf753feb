"""Run a command in a child process and measure it: exit code, output, wall time and peak memory.

The peak is the child's own high-water resident set size (``VmHWM`` of the program it runs, written
at exit by a small wrapper). ``getrusage``/``wait4`` would not do: Linux carries the parent's
high-water mark across fork and exec into the child's ``ru_maxrss``, so every child of a 150 MB
pytest would "use" 150 MB. A child that outlives ``timeout`` is killed and reported as hung.
When ``COMFYCORD_CORPUS_STATS`` names a file, every measurement is appended to it as a JSON line
(the bad-input corpus reports its maxima from it).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEMORY_CEILING_MB = 200.0


@dataclass(frozen=True)
class Measured:
    code: int
    out: str
    err: str
    seconds: float
    peak_mb: float


def record(case: str, seconds: float, peak_mb: float | None = None) -> None:
    """Append one case's figures to the stats file, if one is asked for."""
    target = os.environ.get("COMFYCORD_CORPUS_STATS")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"case": case, "seconds": round(seconds, 4), "peak_mb": peak_mb}) + "\n")


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a ``comfycord`` child: this checkout, no settings from the outside."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("COMFYUI_", "DISCORD_", "LOG_", "WORKFLOW"))
    }
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


#: Runs ``python -m <module> args...`` and, at exit, writes the process's VmHWM (KiB) to PEAK_FILE.
_WRAPPER = """
import atexit, os, runpy, sys
def _peak():
    with open('/proc/self/status') as status:
        peak = next(line.split()[1] for line in status if line.startswith('VmHWM:'))
    with open(os.environ['COMFYCORD_PEAK_FILE'], 'w') as out:
        out.write(peak)
atexit.register(_peak)
module = sys.argv[1]
sys.argv = [module, *sys.argv[2:]]
runpy.run_module(module, run_name='__main__', alter_sys=True)
"""


def _run(args: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float) -> Measured:
    assert list(args[:2]) == [sys.executable, "-m"], "measured children are python -m <module>"
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as scratch,
    ):
        peak_file = Path(scratch) / "peak"
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRAPPER, *args[2:]],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env={**env, "COMFYCORD_PEAK_FILE": str(peak_file)},
            cwd=cwd,
        )
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            proc.wait()
        finally:
            timer.cancel()
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        peak_kib = float(peak_file.read_text()) if peak_file.exists() else float("nan")
    if killed.is_set():
        raise AssertionError(f"{' '.join(args)} hung for {timeout:g}s\n{stdout}\n{stderr}")
    return Measured(proc.returncode, stdout, stderr, seconds, peak_kib / 1024)


async def run_measured(
    case: str, args: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float = 60.0
) -> Measured:
    """Run ``args`` (in a thread, so the fakes on this event loop keep answering) and record it."""
    measured = await asyncio.to_thread(_run, args, env, cwd, timeout)
    record(case, measured.seconds, measured.peak_mb)
    return measured


def comfycord(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]
