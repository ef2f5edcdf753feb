"""Text normalisation for prompt filters: undo the usual tricks people use to slip words past a filter.

``fold`` removes what changes how text *looks to a machine* but not to a human: compatibility forms
(fullwidth, mathematical letters), case, invisible characters, diacritics and Cyrillic/Greek look-alikes.

``analyse`` then cuts the folded text into words two ways and reads leetspeak in them:

* *split*: only letters and digits make words, every symbol separates (``nsfw+nude`` is two words);
* *glued*: leet symbols such as ``@ $ ! |`` count as letters (``@ss`` is one word).

A term matches if it matches whole words in either analysis. In both, runs of single characters split
by separators (``n.s.f.w``, ``n s f w``, ``n-s-f-w``) are joined into one word; longer words are never
glued together, which is what keeps ``class`` and ``assistant`` clear of a blocked ``ass``.

Each word is compared through its *skeletons*: leetspeak read as letters (``1`` and ``|`` as ``i`` and
as ``l``), ``vv`` read as ``w``, and stretched letters (``nuuude``) read as one or two. Real letters are
never merged with each other (``hell`` is not ``heil``), and words made only of digits are never read as
leetspeak, so seeds and sizes (``455``, ``1024``) cannot trip a filter.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

# --- folding ---------------------------------------------------------------------------------------

# Characters that render as nothing (or as a blank) but are letters or symbols to Unicode, so
# neither NFKC nor the Cf/Mn categories remove them.
_INVISIBLE: Final = frozenset("\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5")

# Capital look-alikes are mapped before case folding: capital Greek Nu looks like N, but its lower
# case (ν) looks like v, so folding first would read "ΝSFW" as "vsfw".
_UPPER_LOOKALIKES: Final = str.maketrans(
    {
        # Greek
        "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
        "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C",
        # Cyrillic
        "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
        "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Ԁ": "D", "Ԛ": "Q", "Ԝ": "W",
        "Ӏ": "I", "Һ": "H",
    }
)  # fmt: skip

_LOWER_LOOKALIKES: Final = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "п": "n", "р": "p",
        "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "һ": "h", "ԁ": "d",
        "ԛ": "q", "ԝ": "w", "ӏ": "l", "ь": "b", "ɡ": "g",
        # Greek
        "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "μ": "u", "ν": "v",
        "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j",
        # Armenian
        "ո": "n", "ս": "u", "օ": "o", "հ": "h",
        # Latin letters with no decomposition, and small capitals
        "ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ı": "i", "ȷ": "j", "ŧ": "t", "ƀ": "b", "ɨ": "i",
        "ɑ": "a", "æ": "ae", "œ": "oe", "þ": "th", "ð": "d",
        "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ғ": "f", "ɢ": "g", "ʜ": "h", "ɪ": "i",
        "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ꜱ": "s",
        "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z",
        # Regional indicator symbols (flag letters) read as the letters they show.
        **{chr(0x1F1E6 + i): chr(ord("a") + i) for i in range(26)},
    }
)  # fmt: skip


def fold(text: str) -> str:
    """Case-folded text without invisible characters, diacritics, or look-alike letters."""
    text = unicodedata.normalize("NFKC", text).translate(_UPPER_LOOKALIKES).casefold()
    # NFD after case folding: casefold itself can produce combining marks ("İ" -> "i" + dot above).
    kept = [
        ch
        for ch in unicodedata.normalize("NFD", text)
        if ch not in _INVISIBLE and unicodedata.category(ch) not in ("Mn", "Me", "Cf")
    ]
    return "".join(kept).translate(_LOWER_LOOKALIKES)


# --- leetspeak ---------------------------------------------------------------------------------------

LEET_SYMBOLS: Final = frozenset("@$!|+€¡")
"""Symbols that stand for letters inside a word; elsewhere they separate words."""

_LEET: Final = str.maketrans(
    {
        "0": "o", "3": "e", "4": "a", "5": "s", "6": "g", "7": "t", "8": "b", "9": "g",
        "@": "a", "$": "s", "!": "i", "¡": "i", "+": "t", "€": "e",
    }
)  # fmt: skip

# "1" and "|" stand for "i" as often as for "l": both readings are tried (first one is the primary).
_AMBIGUOUS: Final = {"1": ("i", "l"), "|": ("l", "i")}
MAX_AMBIGUOUS: Final = 4
"""Beyond this many ambiguous characters in one word, only the all-first and all-second readings."""


def is_leet_word(word: str) -> bool:
    """Whether a word can be leetspeak: it has a letter or a leet symbol, so ``1024`` is a number."""
    return any(ch.isalpha() or ch in LEET_SYMBOLS for ch in word)


def read_leet(word: str) -> str:
    """The primary reading of a word with leetspeak read as letters (numbers stay as they are)."""
    if not is_leet_word(word):
        return word
    return "".join(_AMBIGUOUS[ch][0] if ch in _AMBIGUOUS else ch for ch in word.translate(_LEET))


def _leet_readings(word: str) -> list[str]:
    """Every reading of the ambiguous characters (a few of them), or the two uniform ones."""
    base = word.translate(_LEET)
    spots = [i for i, ch in enumerate(base) if ch in _AMBIGUOUS]
    if not spots:
        return [base]
    if len(spots) > MAX_AMBIGUOUS:
        picks: list[tuple[int, ...]] = [(0,) * len(spots), (1,) * len(spots)]
    else:
        picks = list(itertools.product((0, 1), repeat=len(spots)))
    out = []
    for pick in picks:
        chars = list(base)
        for spot, choice in zip(spots, pick, strict=True):
            chars[spot] = _AMBIGUOUS[base[spot]][choice]
        out.append("".join(chars))
    return out


# --- words -----------------------------------------------------------------------------------------

MAX_GAP: Final = 3
"""Most separator characters allowed between two single characters that are joined (``n . s``)."""

MAX_STRETCHED_RUNS: Final = 3
"""Beyond this many stretched letter runs in one word, only two readings are tried (not every mix)."""


@dataclass(frozen=True, slots=True)
class Analysis:
    """One way of cutting a text into words: the raw words and, for each, its skeleton readings."""

    words: tuple[str, ...]
    readings: tuple[frozenset[str], ...]


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """A text ready for matching: folded, read as words, and as plain lower-case text for regexes."""

    folded: str
    readable: str
    analyses: tuple[Analysis, ...]
    vocabulary: frozenset[str]
    """Every skeleton reading of every word in either analysis: one set lookup per exact term."""


def _is_word_char(ch: str, glued: bool) -> bool:
    return ch.isalnum() or (glued and ch in LEET_SYMBOLS)


def _words(folded: str, glued: bool) -> Iterator[tuple[str, int, int]]:
    """Maximal runs of word characters with their spans."""
    start = -1
    for i, ch in enumerate(folded):
        if _is_word_char(ch, glued):
            if start < 0:
                start = i
        elif start >= 0:
            yield folded[start:i], start, i
            start = -1
    if start >= 0:
        yield folded[start:], start, len(folded)


def split_words(folded: str, *, glued: bool) -> list[str]:
    """Words of folded text, with runs of single characters split by short separators joined up."""
    out: list[str] = []
    run: list[str] = []
    last_end = -1
    for word, start, end in _words(folded, glued):
        if len(word) == 1 and (not run or start - last_end <= MAX_GAP):
            run.append(word)
        else:
            _flush(run, out)
            if len(word) == 1:
                run.append(word)
            else:
                out.append(word)
        last_end = end
    _flush(run, out)
    return out


def _flush(run: list[str], out: list[str]) -> None:
    # Only runs of two or more singles are joined: a lone "a" stays the word "a".
    if run:
        out.append("".join(run))
        run.clear()


def _runs(text: str) -> list[tuple[str, int]]:
    return [(ch, len(list(group))) for ch, group in itertools.groupby(text)]


def skeleton(word: str) -> str:
    """The comparable form of a term's word: leet read (primary reading), ``vv`` as ``w``, runs cut
    to two letters. Numbers stay exactly as written."""
    if not is_leet_word(word):
        return word
    return "".join(ch * min(n, 2) for ch, n in _runs(read_leet(word).replace("vv", "w")))


def readings(word: str) -> frozenset[str]:
    """Skeletons a prompt's word may stand for: each reading of ``1`` and ``|``, and each stretched
    run (three letters or more) read as one or two letters."""
    if not is_leet_word(word):
        return frozenset({word})
    out: set[str] = set()
    for reading in _leet_readings(word):
        out.update(_stretch_readings(reading.replace("vv", "w")))
    return frozenset(out)


def _stretch_readings(text: str) -> set[str]:
    runs = _runs(text)
    stretched = [i for i, (_, n) in enumerate(runs) if n >= 3]
    if not stretched:
        return {text}
    if len(stretched) > MAX_STRETCHED_RUNS:
        choices: list[tuple[int, ...]] = [(1,) * len(stretched), (2,) * len(stretched)]
    else:
        choices = list(itertools.product((1, 2), repeat=len(stretched)))
    out = set()
    for choice in choices:
        lengths = dict(zip(stretched, choice, strict=True))
        out.add("".join(ch * lengths.get(i, n) for i, (ch, n) in enumerate(runs)))
    return out


def analyse(folded: str) -> tuple[Analysis, ...]:
    """The split and glued analyses of already folded text."""
    result = []
    for glued in (False, True):
        words = tuple(split_words(folded, glued=glued))
        result.append(Analysis(words, tuple(readings(w) for w in words)))
    return tuple(result)


def normalize(text: str) -> NormalizedText:
    """Fold and analyse ``text`` once, for every filter that will look at it."""
    folded = fold(text)
    analyses = analyse(folded)
    # Regexes see the glued words with leetspeak read, e.g. "n.s.f.w p0rn" -> "nsfw porn".
    readable = " ".join(read_leet(w) for w in analyses[1].words)
    vocabulary = frozenset(r for a in analyses for word_readings in a.readings for r in word_readings)
    return NormalizedText(folded=folded, readable=readable, analyses=analyses, vocabulary=vocabulary)
