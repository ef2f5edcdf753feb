"""Folding, word splitting, leetspeak and the words text the term patterns read, piece by piece."""

from __future__ import annotations

import pytest

from bot.moderation.normalize import (
    fold,
    normalize,
    read_leet,
    skeleton,
    split_words,
    written_as,
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


def test_each_letter_knows_how_leet_writes_it() -> None:
    assert set(written_as("a")) == {"a", "4", "@"}
    assert set(written_as("i")) == {"i", "1", "|", "!", "¡"}
    assert set(written_as("l")) == {"l", "1", "|"}
    assert written_as("x") == "x"


def test_skeletons_read_leet_and_cut_stretched_runs() -> None:
    assert skeleton("nuuuude") == "nuude"
    assert skeleton("h1tl3r") == "hitler"
    assert skeleton("nsfvv") == "nsfw"
    assert skeleton("1488") == "1488"


def test_fold_of_ascii_is_lower_case() -> None:
    text = "".join(chr(c) for c in range(128))
    assert fold(text) == text.lower()


def test_the_words_text_holds_both_cuts_and_marks_numbers() -> None:
    text = normalize("N.S.F.W @ss, seed 455 1024px")
    assert text.words == " nsfw ss seed #455 1024px \n nsfw @ss seed #455 1024px "


def test_the_words_text_has_one_line_when_both_cuts_agree() -> None:
    assert normalize("a cat, 2 dogs").words == " a cat #2 dogs "
    assert normalize("   ").words == " "


def test_normalize_gives_regexes_a_readable_form() -> None:
    text = normalize("N.S.F.W p0rn, 1024px 455")
    assert text.folded == "n.s.f.w p0rn, 1024px 455"
    assert text.readable == "nsfw porn io2apx 455"


def test_normalize_a_long_hostile_text_stays_bounded() -> None:
    hostile = "1l|" * 3_000 + " " + "a " * 3_000
    text = normalize(hostile)
    # No reading is spelled out: each cut of the text appears once, whatever its ambiguity.
    assert len(text.words) <= 2 * len(hostile) + 8
