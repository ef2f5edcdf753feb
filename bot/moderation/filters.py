"""Prompt filters: every text parameter against the built-in list and the guild's term lists.

All of a policy's words, wildcards and phrases compile into one RE2 expression, and all of its
regular expressions into another, so a clean prompt costs one pass over its words (plus one over its
text per form when there are regexes), whatever the number of terms. Only a prompt that matches
something is looked at again, list by list, to find which term it was.

The verdict never tells the member which term matched (that would teach them what to misspell next);
it names the parameter. Moderators get the term in ``matched_term_for_moderators``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from bot.moderation.errors import InvalidTerm
from bot.moderation.linear_regex import LinearRegex, RegexError
from bot.moderation.normalize import NormalizedText, normalize
from bot.moderation.settings import GuildPolicy
from bot.moderation.terms import BUILTIN_BLOCKLIST, Term, parse_term

log = logging.getLogger(__name__)

BUILTIN_LIST: Final = "built-in list"
CHUNK_TERMS: Final = 16


class FilterAction(StrEnum):
    """What a filter says about a request; BLOCK beats REVIEW beats ALLOW."""

    ALLOW = "allow"
    REVIEW = "review"
    BLOCK = "block"


@dataclass(frozen=True, slots=True)
class FilterVerdict:
    """The outcome of checking a request's texts.

    ``reason_for_user`` names the parameter but never the term; ``matched_term_for_moderators`` is the
    term as written in its list, with the list's name.
    """

    action: FilterAction
    param: str | None = None
    reason_for_user: str = ""
    matched_term_for_moderators: str | None = None

    @property
    def allowed(self) -> bool:
        """Nothing matched."""
        return self.action is FilterAction.ALLOW


ALLOWED: Final = FilterVerdict(FilterAction.ALLOW)


@dataclass(frozen=True, slots=True)
class TermList:
    """A named list of terms and what a match does."""

    name: str
    action: FilterAction
    terms: tuple[Term, ...]


class _ListMatcher:
    """Finds which term of one list a text matches: all word terms in one expression with a group
    each, then the regular expressions one by one. Compiled the first time a prompt matches anything:
    most filters only ever see clean prompts."""

    def __init__(self, term_list: TermList) -> None:
        self.term_list = term_list
        self._word_terms = tuple(t for t in term_list.terms if t.pattern is not None)
        self._regex_terms = tuple(t for t in term_list.terms if t.regex is not None)

    @functools.cached_property
    def _words(self) -> _Alternation:
        return _Alternation([t.pattern for t in self._word_terms if t.pattern], capture=True)

    def first_match(self, text: NormalizedText) -> Term | None:
        index = self._words.first(text.words)
        if index is not None:
            return self._word_terms[index]
        return next((term for term in self._regex_terms if term.matches(text)), None)


class PromptFilter:
    """The compiled term lists of one policy; build it with ``filter_for``."""

    def __init__(self, lists: Sequence[TermList]) -> None:
        # Block lists first: a text that matches both kinds of list is blocked, not reviewed.
        ordered = sorted(lists, key=lambda t: t.action is not FilterAction.BLOCK)
        self._matchers = tuple(_ListMatcher(term_list) for term_list in ordered)
        terms = [term for term_list in ordered for term in term_list.terms]
        self._any_word = _Alternation([t.pattern for t in terms if t.pattern is not None])
        self._any_regex = _Alternation(
            [t.regex.pattern for t in terms if t.regex is not None], ignore_case=True
        )
        self._has_regex = any(t.regex is not None for t in terms)

    def check(self, texts: Mapping[str, str]) -> FilterVerdict:
        """The verdict for a request's text parameters (parameter name -> value)."""
        normalized = {param: normalize(text) for param, text in texts.items() if text.strip()}
        flagged = [(param, text) for param, text in normalized.items() if self._matches_any(text)]
        for matcher in self._matchers:
            for param, text in flagged:
                term = matcher.first_match(text)
                if term is not None:
                    return _verdict(matcher.term_list, param, term)
        return ALLOWED

    def _matches_any(self, text: NormalizedText) -> bool:
        if self._any_word.search(text.words):
            return True
        # Only a policy with regexes pays for the readable form of the text.
        return self._has_regex and (
            self._any_regex.search(text.folded) or self._any_regex.search(text.readable)
        )


class _Alternation:
    """Patterns searched together, ``CHUNK_TERMS`` to an RE2 expression (fewer if RE2 finds that too
    large).

    Why not all in one: RE2 matches with a DFA built lazily from the text, and the DFA of a union
    tracks every combination of its patterns' partial matches. Past a few dozen terms that is more
    states than its memory keeps, and every prompt pays to build them again; a few smaller
    expressions stay fast (bench/filter_bench.py).
    """

    def __init__(self, patterns: Sequence[str], *, ignore_case: bool = False, capture: bool = False) -> None:
        self._ignore_case = ignore_case
        self._capture = capture
        self._chunks: list[tuple[int, LinearRegex]] = []
        for start in range(0, len(patterns), CHUNK_TERMS):
            self._add(start, list(patterns[start : start + CHUNK_TERMS]))

    def _add(self, offset: int, patterns: list[str]) -> None:
        if not patterns:
            return
        wrap = "({})" if self._capture else "(?:{})"
        try:
            regex = LinearRegex(
                "|".join(wrap.format(p) for p in patterns),
                ignore_case=self._ignore_case,
                capture=self._capture,
            )
        except RegexError as exc:
            if len(patterns) == 1:
                # Every term compiled on its own when it was parsed; this one is a bug, not a reason
                # to stop filtering.
                log.error("skipping a term pattern RE2 refuses (%s): %r", exc, patterns[0])
                return
            half = len(patterns) // 2
            self._add(offset, patterns[:half])
            self._add(offset + half, patterns[half:])
            return
        self._chunks.append((offset, regex))

    def search(self, text: str) -> bool:
        """Whether any pattern occurs in ``text``."""
        return any(regex.search(text) for _, regex in self._chunks)

    def first(self, text: str) -> int | None:
        """Which pattern (its index) makes the first match in ``text``; needs ``capture``."""
        for offset, regex in self._chunks:
            group = regex.first_group(text)
            if group:
                return offset + group - 1
        return None


def _verdict(term_list: TermList, param: str, term: Term) -> FilterVerdict:
    if term_list.action is FilterAction.BLOCK:
        reason = f"Your `{param}` contains a blocked term. Please rephrase it and try again."
    else:
        reason = (
            f"Your `{param}` contains a term that moderators check first, so your request waits for review."
        )
    return FilterVerdict(
        action=term_list.action,
        param=param,
        reason_for_user=reason,
        matched_term_for_moderators=f"{term.raw} ({term_list.name})",
    )


def _parse_stored(terms: Sequence[str], list_name: str) -> tuple[Term, ...]:
    parsed = []
    for raw in terms:
        try:
            parsed.append(parse_term(raw))
        except InvalidTerm as exc:
            # Terms are checked when added; one that fails now (stricter rules in a newer version)
            # is skipped rather than taking the whole list down with it.
            log.warning("skipping unusable term in %s: %s", list_name, exc.user_message)
    return tuple(parsed)


@functools.lru_cache(maxsize=256)
def compile_filter(blocked: tuple[str, ...], review: tuple[str, ...], use_builtin: bool) -> PromptFilter:
    """Parse term lists once: memoised on their contents, since guilds rarely change them."""
    lists = [
        TermList("blocked_terms", FilterAction.BLOCK, _parse_stored(blocked, "blocked_terms")),
        TermList("review_terms", FilterAction.REVIEW, _parse_stored(review, "review_terms")),
    ]
    if use_builtin:
        lists.insert(
            0, TermList(BUILTIN_LIST, FilterAction.BLOCK, _parse_stored(BUILTIN_BLOCKLIST, BUILTIN_LIST))
        )
    return PromptFilter(lists)


def filter_for(policy: GuildPolicy) -> PromptFilter:
    """The compiled filter of a guild policy."""
    return compile_filter(policy.blocked_terms, policy.review_terms, policy.use_builtin_blocklist)


def check_texts(policy: GuildPolicy, texts: Mapping[str, str]) -> FilterVerdict:
    """Check every text parameter of a request against the guild's filters."""
    return filter_for(policy).check(texts)
