"""Fitting results off the event loop, one file at a time, each within a time limit.

Re-encoding a clip takes seconds of CPU: it runs in the fitter's own worker thread (not the loop's
default executor, which spool reads and screening share), and the encoder stops itself at the file's
deadline. The fitter is created and closed by the composition root.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from bot.media.fit import Fitted, fit_media, size_words
from bot.media.kinds import OutputKind
from bot.media.video import Clock

log = logging.getLogger(__name__)

DEFAULT_TIME_LIMIT: Final = 120.0
GRACE: Final = 30.0
"""How long past its deadline a worker may take to notice it (one frame, the file's trailer)."""


class MediaFitter:
    """Makes results fit upload limits in a worker thread; ``time_limit`` seconds per file at most."""

    def __init__(
        self, *, time_limit: float = DEFAULT_TIME_LIMIT, workers: int = 1, clock: Clock = time.monotonic
    ):
        self.time_limit = time_limit
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="media-fit")
        self.fitted = 0
        """Files that had to be re-encoded (for tests and metrics)."""

    async def fit(self, data: bytes, filename: str, kind: OutputKind, mime: str, limit: int) -> Fitted:
        """``data`` within ``limit`` bytes, or its still frame, or a note saying why it is missing."""
        if len(data) <= limit:
            return Fitted(data, filename, kind, mime)
        self.fitted += 1
        deadline = self._clock() + self.time_limit
        work = functools.partial(
            fit_media, data, filename, kind, mime, limit, deadline=deadline, clock=self._clock
        )
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.time_limit + GRACE):
                fitted = await asyncio.get_running_loop().run_in_executor(self._pool, work)
        except TimeoutError:
            log.warning("fitting %s did not stop at its deadline; it is left out", filename)
            note = (
                f"a {kind.value} ({size_words(len(data))}) could not be shrunk in time, so it was not posted"
            )
            return Fitted(b"", filename, kind, mime, note)
        log.info(
            "fitted %s (%s, %d bytes) to %d bytes in %.1fs: %s",
            filename,
            kind.value,
            len(data),
            len(fitted.data),
            time.monotonic() - started,
            fitted.note,
        )
        return fitted

    def close(self) -> None:
        """Stop taking work; a file being re-encoded stops at its deadline."""
        self._pool.shutdown(wait=False, cancel_futures=True)
