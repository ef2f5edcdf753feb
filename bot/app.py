"""The composition root (filled in by the Discord front-end work)."""

from __future__ import annotations

import logging

from bot.config import Settings

log = logging.getLogger(__name__)


def run_bot(settings: Settings) -> int:
    log.error("the Discord front-end is not built yet; backends configured: %d", len(settings.backends))
    return 1
