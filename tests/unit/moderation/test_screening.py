"""Output screening: the optional NudeNet loader, the screener wrapper and the output action."""

from __future__ import annotations

import importlib.util
import io
import types
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.moderation.screening import (
    SCREENING_OFF,
    NudeNetScreener,
    OutputAction,
    ScreeningResult,
    load_screener,
    output_action,
)
from bot.moderation.settings import GuildPolicy, ScreeningAction

HAS_NUDENET = importlib.util.find_spec("nudenet") is not None


def missing(name: str) -> types.ModuleType:
    raise ModuleNotFoundError(name)


class FakeDetector:
    """Stands in for NudeNet's NudeDetector: records what it was asked, answers canned detections."""

    def __init__(self, detections: list[dict[str, Any]]) -> None:
        self.detections = detections
        self.seen: list[bytes] = []
        self.paths: list[str] = []

    def detect(self, path: str) -> list[dict[str, Any]]:
        self.paths.append(path)
        self.seen.append(Path(path).read_bytes())
        return self.detections


def fake_module(**attrs: Any) -> types.ModuleType:
    module = types.ModuleType("nudenet")
    for name, value in attrs.items():
        setattr(module, name, value)
    return module


def test_without_nudenet_screening_is_off() -> None:
    assert load_screener(importer=missing) == (None, SCREENING_OFF)
    assert SCREENING_OFF == "output screening is off (install comfycord[nsfw])"


@pytest.mark.skipif(HAS_NUDENET, reason="NudeNet is installed here")
def test_the_real_import_fails_cleanly_when_not_installed() -> None:
    assert load_screener() == (None, SCREENING_OFF)


def test_nudenet_2_is_refused_because_it_downloads_models() -> None:
    module = fake_module(NudeDetector=object, NudeClassifier=object)
    screener, reason = load_screener(importer=lambda _: module)
    assert screener is None
    assert "NudeNet 3 or newer" in reason


def test_a_broken_install_does_not_stop_the_bot() -> None:
    def broken() -> None:
        raise RuntimeError("onnxruntime is missing")

    screener, reason = load_screener(importer=lambda _: fake_module(NudeDetector=broken))
    assert screener is None
    assert reason == "output screening is off (NudeNet failed to load: onnxruntime is missing)"


def test_the_loader_wraps_the_detector() -> None:
    screener, reason = load_screener(
        threshold=0.7, importer=lambda _: fake_module(NudeDetector=lambda: FakeDetector([]))
    )
    assert isinstance(screener, NudeNetScreener)
    assert screener.name == "nudenet"
    assert reason == "output screening is on (NudeNet, threshold 0.7)"


def test_the_screener_judges_exposed_labels_only() -> None:
    detector = FakeDetector(
        [
            {"class": "FACE_FEMALE", "score": 0.99, "box": [0, 0, 1, 1]},
            {"class": "FEMALE_BREAST_COVERED", "score": 0.95, "box": [0, 0, 1, 1]},
            {"class": "BUTTOCKS_EXPOSED", "score": 0.42, "box": [0, 0, 1, 1]},
        ]
    )
    result = NudeNetScreener(detector, threshold=0.5).classify(b"image bytes")
    assert result == ScreeningResult(nsfw=False, score=0.42, labels=())
    assert detector.seen == [b"image bytes"]
    assert not Path(detector.paths[0]).exists()  # the temporary file is gone

    detector.detections.append({"class": "FEMALE_GENITALIA_EXPOSED", "score": 0.8, "box": [0, 0, 1, 1]})
    result = NudeNetScreener(detector, threshold=0.5).classify(b"x")
    assert result == ScreeningResult(nsfw=True, score=0.8, labels=("FEMALE_GENITALIA_EXPOSED",))


def test_output_action() -> None:
    nsfw, safe = ScreeningResult(True, 0.9, ("ANUS_EXPOSED",)), ScreeningResult(False, 0.1)
    for setting, action in [
        (ScreeningAction.SPOILER, OutputAction.SPOILER),
        (ScreeningAction.REVIEW, OutputAction.REVIEW),
        (ScreeningAction.BLOCK, OutputAction.BLOCK),
    ]:
        policy = GuildPolicy(nsfw_output_action=setting)
        assert output_action(policy, channel_nsfw=False, results=[safe, nsfw]) is action
        assert output_action(policy, channel_nsfw=True, results=[nsfw]) is OutputAction.DELIVER
        assert output_action(policy, channel_nsfw=False, results=[safe, None]) is OutputAction.DELIVER
        assert output_action(policy, channel_nsfw=False, results=[]) is OutputAction.DELIVER


@pytest.mark.skipif(not HAS_NUDENET, reason="NudeNet is not installed (optional extra comfycord[nsfw])")
def test_real_nudenet_classifies_a_plain_image() -> None:
    screener, reason = load_screener()
    assert screener is not None, reason
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (40, 120, 200)).save(buffer, format="PNG")
    result = screener.classify(buffer.getvalue())
    assert not result.nsfw
