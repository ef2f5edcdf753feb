"""Folding, word splitting and leetspeak readings, piece by piece."""

from __future__ import annotations

import pytest

from bot.moderation.normalize import (
    fold,
    normalize,
    read_leet,
    readings,
    skeleton,
    split_words,
)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("NSFW", "nsfw"),
        ("ｎｓｆｗ", "nsfw"),
        ("𝐍𝐒𝐅𝐖", "nsfw"),
        ("ﬁre", "fire"),
        ("Straße", "strasse"),
        ("İstanbul", "istanbul"),
        ("crème brûlée", "creme brulee"),
        ("n\u200bs\u200cf\u200dw\ufeff", "nsfw"),
        ("Ν", "n"),  # Greek capital Nu is an N, not the v its lower case looks like
        ("ν", "v"),
        ("Η", "h"),
        ("η", "n"),
        ("рорn", "popn"),
        ("ᴀʙᴄ", "abc"),
        ("łódź", "lodz"),
        ("Øre", "ore"),
        ("a\u3164b", "ab"),
        ("1024 x 768", "1024 x 768"),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_fold_keeps_scripts_it_does_not_confuse() -> None:
    assert fold("日本語 текст") == "日本語 tekct"  # Cyrillic letters with Latin twins fold; others stay


@pytest.mark.parametrize(
    ("text", "split", "glued"),
    [
        ("n.s.f.w", ["nsfw"], ["nsfw"]),
        ("a cat", ["a", "cat"], ["a", "cat"]),
        ("a s s", ["ass"], ["ass"]),
        ("@ss", ["ss"], ["@ss"]),
        ("nsfw+nude", ["nsfw", "nude"], ["nsfw+nude"]),
        ("n!s!f!w", ["nsfw"], ["n!s!f!w"]),
        ("class!", ["class"], ["class!"]),
        ("x     y", ["x", "y"], ["x", "y"]),  # separators longer than MAX_GAP do not join
        ("big a b c cat", ["big", "abc", "cat"], ["big", "abc", "cat"]),
    ],
)
def test_split_words(text: str, split: list[str], glued: list[str]) -> None:
    assert split_words(fold(text), glued=False) == split
    assert split_words(fold(text), glued=True) == glued


def test_leet_is_only_read_in_words_that_have_letters_or_symbols() -> None:
    assert read_leet("s3x") == "sex"
    assert read_leet("@55") == "ass"
    assert read_leet("455") == "455"
    assert read_leet("1024") == "1024"


def test_ambiguous_characters_have_both_readings() -> None:
    assert readings("l0l1") == {"loli", "loll"}
    assert readings("k1ll") == {"kill", "kll", "kl"}  # "klll" is a stretched run
    # Beyond four ambiguous characters only the uniform readings are tried.
    assert readings("1a1a1a1a1a") == {"iaiaiaiaia", "lalalalala"}


def test_stretched_runs_read_as_one_or_two() -> None:
    assert readings("nuuuude") == {"nude", "nuude"}
    assert readings("good") == {"good"}
    assert skeleton("nuuuude") == "nuude"
    assert skeleton("1488") == "1488"


def test_normalize_gives_regexes_a_readable_form() -> None:
    text = normalize("N.S.F.W p0rn, 1024px")
    assert text.folded == "n.s.f.w p0rn, 1024px"
    assert text.readable == "nsfw porn io2apx"
    assert {"nsfw", "porn"} <= text.vocabulary


def test_normalize_a_long_hostile_text_stays_bounded() -> None:
    text = normalize("1l|" * 3_000 + " " + "a " * 3_000)
    assert len(text.vocabulary) < 20
