"""Ban durations as moderators type them, and durations as members read them."""

from __future__ import annotations

import pytest

from bot.moderation import InvalidDuration, human_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30m", 1800),
        ("12h", 43_200),
        ("7d", 604_800),
        ("2w", 1_209_600),
        ("1d12h", 129_600),
        (" 1D 30M ", 88_200),
        ("45s", 45),
    ],
)
def test_durations_read(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", [None, "", "  ", "permanent", "forever", "0"])
def test_no_duration_means_until_lifted(text: str | None) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("soon", "`soon` is not a duration: use a number and a unit, e.g. 30m"),
        ("12", "`12` is not a duration"),
        ("3 days", "`3 days` is not a duration"),
        ("0m", "longer than zero"),
        ("11000d", "at most ten years"),
    ],
)
def test_bad_durations_say_what_is_expected(text: str, message: str) -> None:
    with pytest.raises(InvalidDuration) as caught:
        parse_duration(text)
    assert message in caught.value.user_message


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.2, "1 second"),
        (42, "42 seconds"),
        (61, "2 minutes"),
        (3600, "1 h 00 min"),
        (2 * 86_400 + 3600, "2 d 1 h"),
    ],
)
def test_human_durations(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text
