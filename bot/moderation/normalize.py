"""Text normalisation for prompt filters: undo the usual tricks people use to slip words past a filter.

``fold`` removes what changes how text *looks to a machine* but not to a human: compatibility forms
(fullwidth, mathematical letters), case, invisible characters, diacritics and Cyrillic/Greek look-alikes.

The folded text is then cut into words two ways:

* *split*: only letters and digits make words, every symbol separates (``nsfw+nude`` is two words);
* *glued*: leet symbols such as ``@ $ ! |`` count as letters (``@ss`` is one word).

A term matches if it matches whole words in either. In both, runs of single characters split by short
separators (``n.s.f.w``, ``n s f w``, ``n-s-f-w``) are joined into one word; longer words are never
glued together, which is what keeps ``class`` and ``assistant`` clear of a blocked ``ass``.

The words are kept as written: leetspeak (``1`` and ``|`` read as ``i`` or ``l``, ``@`` as ``a``),
``vv`` for ``w`` and stretched letters (``nuuude``) are read by the term's compiled pattern (see
word_patterns), which accepts every reading at once instead of listing them. Real letters are never
merged with each other (``hell`` is not ``heil``), and words made only of digits are never read as
leetspeak, so seeds and sizes (``455``, ``1024``) cannot trip a filter.

Everything here runs as a handful of C-level string operations per text (``str.translate``, one
``re`` substitution per way of cutting), never a Python loop over characters or words.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Mapping
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


class _LazyTable(dict[int, int | str | None]):
    """A ``str.translate`` table computed one character at a time, the first time it is seen.

    Lookups of known characters stay in C; only a character never seen before costs a Python call.
    Past ``limit`` entries new characters are still translated, just not remembered.
    """

    def __init__(self, translate: Callable[[str], int | str | None], limit: int = 8192) -> None:
        super().__init__()
        self._translate = translate
        self._limit = limit

    def __missing__(self, code: int) -> int | str | None:
        value = self._translate(chr(code))
        if len(self) < self._limit:
            self[code] = value
        return value


def _fold_char(ch: str) -> int | str | None:
    if ch in _INVISIBLE or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return None
    return _LOWER_LOOKALIKES.get(ord(ch), ord(ch))


_FOLD_TABLE: Final = _LazyTable(_fold_char)


def fold(text: str) -> str:
    """Case-folded text without invisible characters, diacritics, or look-alike letters."""
    if text.isascii():
        # NFKC, the look-alike tables and the removed categories leave ASCII alone.
        return text.lower()
    text = unicodedata.normalize("NFKC", text).translate(_UPPER_LOOKALIKES).casefold()
    # NFD after case folding: casefold itself can produce combining marks ("İ" -> "i" + dot above).
    return unicodedata.normalize("NFD", text).translate(_FOLD_TABLE)


# --- leetspeak ---------------------------------------------------------------------------------------

LEET_SYMBOLS: Final = frozenset("@$!|+€¡")
"""Symbols that stand for letters inside a word; elsewhere they separate words."""

_LEET: Final[Mapping[str, str]] = {
    "0": "o", "3": "e", "4": "a", "5": "s", "6": "g", "7": "t", "8": "b", "9": "g",
    "@": "a", "$": "s", "!": "i", "¡": "i", "+": "t", "€": "e",
}  # fmt: skip

_AMBIGUOUS: Final[Mapping[str, tuple[str, str]]] = {"1": ("i", "l"), "|": ("l", "i")}
"""``1`` and ``|`` stand for ``i`` as often as for ``l``; the first reading is the primary one."""

_PRIMARY: Final = str.maketrans({**_LEET, **{ch: pair[0] for ch, pair in _AMBIGUOUS.items()}})

LEET_CHARACTERS: Final = frozenset(_LEET) | frozenset(_AMBIGUOUS)
AMBIGUOUS_CHARACTERS: Final = frozenset(_AMBIGUOUS)
"""Leet characters with more than one reading (``1`` and ``|``: ``i`` or ``l``)."""
"""Everything a leet word may use for a letter: these never survive in a reading of one."""


def is_leet_word(word: str) -> bool:
    """Whether a word can be leetspeak: it has a letter or a leet symbol, so ``1024`` is a number."""
    return any(ch.isalpha() or ch in LEET_SYMBOLS for ch in word)


def read_leet(word: str) -> str:
    """The primary reading of a word with leetspeak read as letters (numbers stay as they are)."""
    return word.translate(_PRIMARY) if is_leet_word(word) else word


@functools.cache
def written_as(letter: str) -> str:
    """Every character a prompt may write for ``letter`` in a leet word: itself and its leet forms."""
    forms = [ch for ch, reading in _LEET.items() if reading == letter]
    forms += [ch for ch, pair in _AMBIGUOUS.items() if letter in pair]
    return letter + "".join(forms)


def _runs(text: str) -> list[tuple[str, int]]:
    return [(match.group()[0], len(match.group())) for match in re.finditer(r"(.)\1*", text, re.DOTALL)]


def skeleton(word: str) -> str:
    """The comparable form of a term's word: leet read (primary reading), ``vv`` as ``w``, runs cut
    to two letters. Numbers stay exactly as written."""
    if not is_leet_word(word):
        return word
    return "".join(ch * min(n, 2) for ch, n in _runs(read_leet(word).replace("vv", "w")))


# --- words -----------------------------------------------------------------------------------------

MAX_GAP: Final = 3
"""Most separator characters allowed between two single characters that are joined (``n . s``)."""


def _split_char(ch: str) -> int | str | None:
    return ord(ch) if ch.isalnum() else " "


def _glued_char(ch: str) -> int | str | None:
    return ord(ch) if ch.isalnum() or ch in LEET_SYMBOLS else " "


_SPLIT_TABLE: Final = _LazyTable(_split_char)
_GLUED_TABLE: Final = _LazyTable(_glued_char)

# Once every separator is a blank: a single character, then more single characters each at most
# MAX_GAP blanks further (each followed by a blank or the end, so it is a single too).
_SINGLES: Final = re.compile(rf" [^ ](?: {{1,{MAX_GAP}}}[^ ](?= |$))+")


def _join_singles(match: re.Match[str]) -> str:
    return " " + match.group().replace(" ", "")


def split_words(folded: str, *, glued: bool) -> list[str]:
    """Words of folded text, with runs of single characters split by short separators joined up."""
    blanked = " " + folded.translate(_GLUED_TABLE if glued else _SPLIT_TABLE)
    return _SINGLES.sub(_join_singles, blanked).split()


# --- the text the matchers read ---------------------------------------------------------------------

NUMBER_MARK: Final = "#"
"""Put before a word made only of digits in ``NormalizedText.words``: such a word is a number, never
leetspeak, and only terms written as numbers match it."""

_NUMBER: Final = re.compile(r" (?=\d+ )")
_MARKED_NUMBER: Final = re.compile(rf"{NUMBER_MARK}(\d+)")


@dataclass(frozen=True)
class NormalizedText:
    """A text ready for matching.

    ``words`` holds the split words, then (when they differ) the glued ones, each between single
    blanks, the two ways on separate lines and numbers marked with ``NUMBER_MARK``:
    ``" nsfw p0rn 1024px #455 "``, then a new line and the glued words. ``folded`` and ``readable``
    are for moderators' regexes.
    """

    folded: str
    words: str
    _glued: str

    @functools.cached_property
    def readable(self) -> str:
        """The glued words with leetspeak read, e.g. ``n.s.f.w p0rn`` -> ``nsfw porn``."""
        parts = _MARKED_NUMBER.split(self._glued)
        # split() with a group alternates text and the numbers it cut out: read only the text.
        return "".join(part if i % 2 else part.translate(_PRIMARY) for i, part in enumerate(parts)).strip()


def _line(words: list[str]) -> str:
    return _NUMBER.sub(" " + NUMBER_MARK, " " + " ".join(words) + " ") if words else " "


def normalize(text: str) -> NormalizedText:
    """Fold and cut ``text`` once, for every filter that will look at it."""
    folded = fold(text)
    split = _line(split_words(folded, glued=False))
    if any(symbol in folded for symbol in LEET_SYMBOLS):
        glued = _line(split_words(folded, glued=True))
        words = split if glued == split else f"{split}\n{glued}"
    else:
        glued = words = split
    return NormalizedText(folded=folded, words=words, _glued=glued)
