"""RE2 behind a small typed surface: regular expressions matched in time linear in the text.

RE2 has no backtracking, so no pattern, however written, can make a match take long; the price is
that it refuses the features that need backtracking (back-references, look-around). google-re2
ships no type information, so this module is the one place that touches it.
"""

from __future__ import annotations

from typing import Any, Final

import re2  # type: ignore[import-untyped]

MAX_MEMORY: Final = 8 << 20
"""Bytes RE2 may use for one compiled expression and its match cache (RE2's default is 8 MiB: a
guild's whole term list compiles into one expression)."""


class RegexError(ValueError):
    """RE2 refused a pattern; the message is RE2's own (e.g. ``invalid perl operator: (?=``)."""


def _options(*, ignore_case: bool, capture: bool) -> Any:
    options = re2.Options()
    options.case_sensitive = not ignore_case
    options.never_capture = not capture
    options.log_errors = False
    options.max_mem = MAX_MEMORY
    return options


class LinearRegex:
    """One compiled RE2 expression; searches take ``str`` or UTF-8 ``bytes``."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str, *, ignore_case: bool = False, capture: bool = False) -> None:
        """``capture``: keep the pattern's groups, so ``first_group`` can say which one matched."""
        self.pattern = pattern
        try:
            self._compiled: Any = re2.compile(pattern, _options(ignore_case=ignore_case, capture=capture))
        except re2.error as exc:
            raise RegexError(_message(exc)) from None

    def search(self, text: str | bytes) -> bool:
        """Whether the pattern occurs anywhere in ``text``."""
        return self._compiled.search(text) is not None

    def span(self, text: str | bytes) -> tuple[int, int] | None:
        """Where the first match is, or None."""
        match = self._compiled.search(text)
        return None if match is None else (int(match.start()), int(match.end()))

    def first_group(self, text: str | bytes) -> int | None:
        """The number of the group that took part in the first match (for an alternation of groups,
        which alternative matched); None if nothing matched, 0 for a match outside every group."""
        match = self._compiled.search(text)
        if match is None:
            return None
        index = match.lastindex
        return 0 if index is None else int(index)


def _message(exc: Exception) -> str:
    raw = exc.args[0] if exc.args else exc
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
