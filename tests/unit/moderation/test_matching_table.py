"""The normalisation and matching table: evasions that must match, innocent words that must not.

Each row is (term, text, should match). Terms are whole words unless they contain ``*`` (wildcard),
spaces (phrase) or start with ``re:`` (regular expression).
"""

from __future__ import annotations

import pytest

from bot.moderation.normalize import normalize
from bot.moderation.terms import BUILTIN_BLOCKLIST, parse_term

ZWSP, ZWNJ, ZWJ, WJ, BOM, SHY = "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"

MUST_MATCH: list[tuple[str, str]] = [
    # plain, case, punctuation around
    ("nsfw", "nsfw"),
    ("nsfw", "NSFW"),
    ("nsfw", "a nsfw picture"),
    ("nsfw", "(nsfw)"),
    ("nsfw", "NSFW!"),
    ("nsfw", "nsfw, masterpiece"),
    ("nsfw", "nsfw+nude"),
    # separators between single letters
    ("nsfw", "n.s.f.w"),
    ("nsfw", "n s f w"),
    ("nsfw", "n-s-f-w"),
    ("nsfw", "n_s_f_w"),
    ("nsfw", "n*s*f*w"),
    ("nsfw", "n/s/f/w"),
    ("nsfw", "n. s. f. w."),
    ("nsfw", "n - s - f - w"),
    ("nsfw", "n|s|f|w"),
    ("nsfw", "n!s!f!w"),
    ("nsfw", "portrait, n.s.f.w, 4k"),
    ("ass", "a s s"),
    ("ass", "a.s.s"),
    # leetspeak
    ("ass", "@ss"),
    ("ass", "a$$"),
    ("ass", "4ss"),
    ("ass", "@$$"),
    ("ass", "@ 5 5"),
    ("sex", "s3x"),
    ("sex", "$3x"),
    ("nude", "nud3"),
    ("noob", "n00b"),
    ("porn", "p0rn"),
    ("porn", "P0RN"),
    ("tit", "t1t"),
    ("kill", "k1ll"),
    ("kill", "ki||"),
    ("loli", "l0l1"),
    ("loli", "1o1i"),
    ("loli", "|0|i"),
    ("hitler", "h1tl3r"),
    ("hitler", "hit1er"),
    ("nazi", "n4z1"),
    ("nsfw", "n5fw"),
    ("nsfw", "n 5 f w"),
    ("nsfw", "nsfvv"),
    ("gore", "g0r3"),
    ("blood", "b100d"),
    ("twat", "7w47"),
    ("bomb", "80mb"),
    # homoglyphs
    ("nsfw", "nѕfw"),  # Cyrillic dze
    ("nsfw", "ΝSFW"),  # Greek capital Nu
    ("porn", "pоrn"),  # Cyrillic o
    ("porn", "рorn"),  # Cyrillic er
    ("porn", "ΡΟRΝ"),  # Greek capitals
    ("sex", "ѕех"),  # Cyrillic dze, ie, ha
    ("nude", "nudе"),  # Cyrillic ie
    ("ass", "аss"),  # Cyrillic a
    ("cock", "сосk"),  # Cyrillic es, o, es
    ("nsfw", "ɴꜱғᴡ"),  # small capitals
    ("nsfw", "🇳🇸🇫🇼"),  # regional indicator letters
    # zero-width and invisible characters
    ("nsfw", f"ns{ZWSP}fw"),
    ("nsfw", f"n{ZWNJ}s{ZWJ}f{WJ}w"),
    ("nsfw", f"{BOM}nsfw"),
    ("nsfw", f"ns{SHY}fw"),
    ("porn", "po\u2063rn"),  # invisible separator
    ("porn", "p\u3164orn"),  # Hangul filler
    ("porn", "po\u202ern"),  # right-to-left override
    # diacritics
    ("nude", "nüdé"),
    ("nude", "ñúdë"),
    ("porn", "pörn"),
    ("nude", "NÚDE"),
    ("porn", "p̷o̷r̷n̷"),  # combining strokes
    ("porn", "pørn"),
    # fullwidth and mathematical letters
    ("nsfw", "ｎｓｆｗ"),
    ("nsfw", "ＮＳＦＷ"),
    ("nsfw", "𝐧𝐬𝐟𝐰"),
    ("nsfw", "𝓷𝓼𝓯𝔀"),
    ("nsfw", "ⓝⓢⓕⓦ"),
    ("porn", "ｐ０ｒｎ"),
    # stretched letters
    ("ass", "asss"),
    ("nude", "nuuuude"),
    ("porn", "pooooorn"),
    # wildcards
    ("nud*", "nudes"),
    ("nud*", "nudity"),
    ("nud*", "NÚD3S"),
    ("nud*", "n.u.d.e"),
    ("nud*", "nuuuudes"),
    ("*porn", "childporn"),
    ("*porn*", "xpornx"),
    ("sex*", "sexy"),
    # phrases
    ("child porn", "child porn"),
    ("child porn", "child, porn"),
    ("child porn", "childporn"),
    ("child porn", "CH1LD p.o.r.n"),
    ("child porn*", "child pornography"),
    ("kiddie porn*", "kiddie-porn"),
    # numbers match numbers exactly
    ("1488", "1488"),
    ("1488", "the 1488 thing"),
    # regular expressions
    (r"re:\bnud(e|ie)s?\b", "some nudies"),
    (r"re:\bnud(e|ie)s?\b", "n.u.d.e.s"),
    (r"re:p[o0]rn", "p0rnhub"),
    (r"re:^nsfw", "NSFW first"),
]

MUST_NOT_MATCH: list[tuple[str, str]] = [
    # Scunthorpe problems: the term inside a longer word
    ("ass", "class"),
    ("ass", "classic"),
    ("ass", "assistant"),
    ("ass", "bass"),
    ("ass", "passage"),
    ("ass", "glass"),
    ("ass", "massive"),
    ("ass", "embassy"),
    ("ass", "cl@ss"),
    ("ass", "b@ss guitar"),
    ("ass", "assassin"),
    ("ass", "as"),
    ("ass", "a.s.s.i.s.t"),
    ("ass", "Massachusetts"),
    ("cunt", "Scunthorpe"),
    ("cunt", "S c u n t h o r p e"),
    ("penis", "Penistone"),
    ("cock", "cocktail"),
    ("cock", "peacock"),
    ("cock", "Hitchcock"),
    ("tit", "title"),
    ("tit", "petite"),
    ("tit", "constitution"),
    ("rape", "grape"),
    ("rape", "drapes"),
    ("rape", "scraped"),
    ("rapist", "therapist"),
    ("sex", "Sussex"),
    ("sex", "sextant"),
    ("sex", "s e x y"),
    ("cum", "cucumber"),
    ("cum", "document"),
    ("cum", "circumstance"),
    ("hell", "hello"),
    ("hell", "shell"),
    ("hell", "heil"),
    ("heil", "hell"),
    ("kill", "skill"),
    ("kill", "kil"),
    ("porn", "popcorn"),
    ("nud*", "snood"),
    ("nazi", "nazir"),
    ("anal", "analysis"),
    ("anal", "canal"),
    ("nsfw", "ns fw ok"),
    ("nsfw", "nsf"),
    ("pedo", "pedometer"),
    ("pedo", "speedo"),
    ("loli", "lolita"),
    ("loli", "lollipop"),
    ("loli", "lolly"),
    ("loli", "Lily"),
    ("child porn", "child portrait"),
    ("child porn", "porn child"),
    # numbers are not leetspeak
    ("ass", "455"),
    ("ass", "seed 455"),
    ("ass", "4 5 5"),
    ("bob", "808"),
    ("ose", "053"),
    ("1488", "14889"),
    ("1488", "i488"),
    # everyday prompt vocabulary
    ("nsfw", "a watercolor of a lighthouse at dusk, 4k, 8k, highly detailed"),
    ("tit", "1girl, titan, titanic, titular"),
    ("ass", "brass instruments, grass, assets, compass"),
    (r"re:\bnud(e|ie)s?\b", "nudibranch"),
    (r"re:p[o0]rn", "pro"),
]


@pytest.mark.parametrize(("term", "text"), MUST_MATCH)
def test_evasions_match(term: str, text: str) -> None:
    assert parse_term(term).matches(normalize(text)), (term, text)


@pytest.mark.parametrize(("term", "text"), MUST_NOT_MATCH)
def test_innocent_words_do_not_match(term: str, text: str) -> None:
    assert not parse_term(term).matches(normalize(text)), (term, text)


def test_the_table_is_large_enough() -> None:
    assert len(MUST_MATCH) + len(MUST_NOT_MATCH) >= 100


INNOCENT_PROMPTS = [
    "a classic bass guitar in a glass case, passage of time, cocktail bar",
    "1girl, solo, portrait, shotgun, 1024x768, seed 455",
    "Scunthorpe United football club, Penistone, Sussex, Middlesex",
    "the assistant carries a lollipop to the pedometer shop",
    "cucumber salad, pedestrian bridge, therapeutic massage, shell beach",
]


@pytest.mark.parametrize("prompt", INNOCENT_PROMPTS)
def test_the_builtin_list_leaves_ordinary_prompts_alone(prompt: str) -> None:
    text = normalize(prompt)
    assert [t for t in BUILTIN_BLOCKLIST if parse_term(t).matches(text)] == []
