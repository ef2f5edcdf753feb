"""Rate-limit buckets that answer real-looking 429s.

Buckets are fixed windows (``limit`` requests per ``per`` seconds) keyed by route parameters, like
Discord's per-resource buckets. *Advertised* rules send ``X-RateLimit-*`` headers on every answer, so
discord.py learns the bucket and throttles itself; *hidden* rules model undocumented sub-limits and are
only discovered through a 429 (which discord.py then sleeps on and retries).

A 429 carries what discord.py needs to retry instead of raising: a ``Via`` header (no ``Via`` means a
Cloudflare ban to discord.py), a JSON body with ``retry_after`` and ``global``, and the headers.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .reply import Reply

CHANNEL_MESSAGE_CREATE = "POST /channels/{channel_id}/messages"
CHANNEL_MESSAGE_EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"
WEBHOOK_ROUTES = (
    "POST /webhooks/{application_id}/{token}",
    "PATCH /webhooks/{application_id}/{token}/messages/@original",
    "PATCH /webhooks/{application_id}/{token}/messages/{message_id}",
)


@dataclass(frozen=True)
class RateLimitRule:
    name: str
    routes: tuple[str, ...]  #: "METHOD /template" strings the rule applies to
    key: tuple[str, ...]  #: route parameters forming the bucket key
    limit: int
    per: float
    advertised: bool = True

    @property
    def bucket_hash(self) -> str:
        return hashlib.sha1(self.name.encode()).hexdigest()[:16]


@dataclass
class _Window:
    start: float
    count: int = 0


@dataclass
class Decision:
    blocked: bool
    headers: dict[str, str] = field(default_factory=dict)
    reply: Reply | None = None  #: the 429 answer when blocked
    rule: RateLimitRule | None = None


def too_many_requests(
    retry_after: float,
    *,
    is_global: bool = False,
    rule: RateLimitRule | None = None,
    scope: str = "user",
    reset_epoch: float | None = None,
) -> Reply:
    retry_after = round(max(retry_after, 0.001), 3)
    headers = {
        "Via": "1.1 google",
        "Retry-After": str(math.ceil(retry_after)),
        "X-RateLimit-Scope": "global" if is_global else scope,
    }
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    if rule is not None:
        headers.update(
            {
                "X-RateLimit-Limit": str(rule.limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{reset_epoch or time.time() + retry_after:.3f}",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Bucket": rule.bucket_hash,
            }
        )
    body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
    return Reply(429, body, headers)


class RateLimiter:
    def __init__(self, rules: list[RateLimitRule], clock: Callable[[], float] = time.monotonic) -> None:
        self.rules = rules
        self._clock = clock
        self._windows: dict[tuple[str, tuple[str, ...]], _Window] = {}

    def _window(self, rule: RateLimitRule, key: tuple[str, ...], now: float) -> _Window:
        window = self._windows.get((rule.name, key))
        if window is None or now >= window.start + rule.per:
            window = self._windows[(rule.name, key)] = _Window(now)
        return window

    def check(self, method: str, route: str, params: Mapping[str, str]) -> Decision:
        """Consumes one request from every matching bucket, or answers 429 if one is exhausted."""
        route_key = f"{method} {route}"
        now = self._clock()
        matched = []
        for rule in self.rules:
            if route_key in rule.routes:
                key = tuple(params.get(k, "") for k in rule.key)
                matched.append((rule, self._window(rule, key, now)))
        exhausted = [(rule, w) for rule, w in matched if w.count >= rule.limit]
        if exhausted:
            rule, window = max(exhausted, key=lambda rw: rw[1].start + rw[0].per)
            retry_after = window.start + rule.per - now
            reply = too_many_requests(retry_after, rule=rule, reset_epoch=time.time() + retry_after)
            return Decision(True, reply=reply, rule=rule)
        headers: dict[str, str] = {}
        for rule, window in matched:
            window.count += 1
            if rule.advertised and not headers:
                reset_after = window.start + rule.per - now
                headers = {
                    "X-RateLimit-Limit": str(rule.limit),
                    "X-RateLimit-Remaining": str(rule.limit - window.count),
                    "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
                    "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                    "X-RateLimit-Bucket": rule.bucket_hash,
                }
        return Decision(False, headers=headers)


def default_rules(
    *,
    send_rate: tuple[int, float] | None,
    edit_rate: tuple[int, float] | None,
    message_edit_rate: tuple[int, float] | None,
    webhook_rate: tuple[int, float] | None,
) -> list[RateLimitRule]:
    """The fake's buckets. Discord does not publish per-route numbers; the defaults follow the commonly
    observed ~5 requests / 5 s per channel for message sends and edits."""
    rules = []
    if send_rate:
        rules.append(
            RateLimitRule("channel-message-create", (CHANNEL_MESSAGE_CREATE,), ("channel_id",), *send_rate)
        )
    if edit_rate:
        rules.append(
            RateLimitRule("channel-message-edit", (CHANNEL_MESSAGE_EDIT,), ("channel_id",), *edit_rate)
        )
    if message_edit_rate:
        rules.append(
            RateLimitRule(
                "message-edit",
                (CHANNEL_MESSAGE_EDIT,),
                ("channel_id", "message_id"),
                *message_edit_rate,
                advertised=False,
            )
        )
    if webhook_rate:
        rules.append(RateLimitRule("interaction-webhook", WEBHOOK_ROUTES, ("token",), *webhook_rate))
    return rules
