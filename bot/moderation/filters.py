"""Prompt filters: every text parameter against the built-in list and the guild's term lists.

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
from bot.moderation.normalize import NormalizedText, normalize
from bot.moderation.settings import GuildPolicy
from bot.moderation.terms import BUILTIN_BLOCKLIST, Term, parse_term

log = logging.getLogger(__name__)

BUILTIN_LIST: Final = "built-in list"


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


class PromptFilter:
    """The compiled term lists of one policy; build it with ``filter_for``."""

    def __init__(self, lists: Sequence[TermList]) -> None:
        # Block lists first: a text that matches both kinds of list is blocked, not reviewed.
        self._lists = sorted(lists, key=lambda t: t.action is not FilterAction.BLOCK)

    def check(self, texts: Mapping[str, str]) -> FilterVerdict:
        """The verdict for a request's text parameters (parameter name -> value)."""
        normalized = {param: normalize(text) for param, text in texts.items() if text.strip()}
        for term_list in self._lists:
            for param, text in normalized.items():
                term = _first_match(term_list.terms, text)
                if term is not None:
                    return _verdict(term_list, param, term)
        return ALLOWED


def _first_match(terms: Sequence[Term], text: NormalizedText) -> Term | None:
    return next((term for term in terms if term.matches(text)), None)


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
