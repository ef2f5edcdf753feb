"""Output screening: an optional NSFW classifier for generated images, and what to do with its verdict.

The classifier is NudeNet, an optional extra (``comfycord[nsfw]``). NudeNet 3 ships its model inside
the package, so loading it never downloads anything; NudeNet 2 fetched models at run time and is
refused. Without it, screening is off and ``load_screener`` says so in words fit for a startup log.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import ModuleType
from typing import Any, Final, Protocol

from bot.moderation.settings import GuildPolicy, ScreeningAction

log = logging.getLogger(__name__)

SCREENING_OFF: Final = "output screening is off (install comfycord[nsfw])"

NUDENET_NSFW_LABELS: Final = frozenset(
    {
        "FEMALE_BREAST_EXPOSED",
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "BUTTOCKS_EXPOSED",
        "ANUS_EXPOSED",
    }
)
"""NudeNet detection classes that make an image NSFW (covered parts, faces, feet... do not)."""


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    """A classifier's judgement of one image: ``score`` is its confidence that the image is NSFW."""

    nsfw: bool
    score: float
    labels: tuple[str, ...] = ()


class Screener(Protocol):
    """Classifies image bytes. CPU-bound and blocking: call it through ``asyncio.to_thread``."""

    @property
    def name(self) -> str: ...

    def classify(self, image: bytes) -> ScreeningResult: ...


class OutputAction(StrEnum):
    """What to do with one job's output images."""

    DELIVER = "deliver"
    SPOILER = "spoiler"
    REVIEW = "review"
    BLOCK = "block"


_ACTIONS: Final = {
    ScreeningAction.SPOILER: OutputAction.SPOILER,
    ScreeningAction.REVIEW: OutputAction.REVIEW,
    ScreeningAction.BLOCK: OutputAction.BLOCK,
}


def output_action(
    policy: GuildPolicy, *, channel_nsfw: bool, results: Sequence[ScreeningResult | None]
) -> OutputAction:
    """The action for a job's images: delivered as they are in age-restricted channels, or when
    no image was judged NSFW (None: not screened); otherwise the guild's ``nsfw_output_action``."""
    if channel_nsfw or not any(r is not None and r.nsfw for r in results):
        return OutputAction.DELIVER
    return _ACTIONS[policy.nsfw_output_action]


class NudeNetScreener:
    """A ``Screener`` over a NudeNet 3 ``NudeDetector`` (or anything with the same ``detect``)."""

    name = "nudenet"

    def __init__(self, detector: Any, *, threshold: float = 0.5) -> None:
        self._detector = detector
        self.threshold = threshold

    def classify(self, image: bytes) -> ScreeningResult:
        """Detect exposed body parts; the image is NSFW if one scores at least ``threshold``."""
        # NudeNet 3.0-3.3 only read image files by path, so go through a temporary file.
        fd, path = tempfile.mkstemp(prefix="comfycord-screen-")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(image)
            detections: list[Mapping[str, Any]] = list(self._detector.detect(path))
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
        hits = [d for d in detections if d.get("class") in NUDENET_NSFW_LABELS]
        score = max((float(d.get("score", 0.0)) for d in hits), default=0.0)
        labels = tuple(
            sorted({str(d["class"]) for d in hits if float(d.get("score", 0.0)) >= self.threshold})
        )
        return ScreeningResult(nsfw=score >= self.threshold, score=score, labels=labels)


def load_screener(
    *, threshold: float = 0.5, importer: Callable[[str], ModuleType] = importlib.import_module
) -> tuple[Screener | None, str]:
    """The NudeNet screener if the optional extra is installed, else None; with a status line.

    Loading reads the model from disk (a second or so): call it once, at startup, off the event loop.
    """
    try:
        nudenet = importer("nudenet")
    except ImportError:
        return None, SCREENING_OFF
    detector_class = getattr(nudenet, "NudeDetector", None)
    if detector_class is None or hasattr(nudenet, "NudeClassifier"):
        # NudeClassifier only exists in NudeNet 2, which downloads its models on first use.
        return None, "output screening is off (NudeNet 3 or newer is needed: install comfycord[nsfw])"
    try:
        detector = detector_class()
    except Exception as exc:  # a broken optional install must not stop the bot
        log.warning("NudeNet failed to load: %s", exc)
        return None, f"output screening is off (NudeNet failed to load: {exc})"
    return NudeNetScreener(
        detector, threshold=threshold
    ), f"output screening is on (NudeNet, threshold {threshold})"
