"""Rate limits counted in the store, so that every gateway replica sees the same counts.

Each policy is a fixed window aligned to the clock (a 60 s window runs from :00 to :00), counted
by one atomic ``Store.hit`` per check on a counter that expires with its window. Answers carry
the ``RateLimit-Policy`` and ``RateLimit`` fields of draft-ietf-httpapi-ratelimit-headers, e.g.
``RateLimit-Policy: "burst";q=100;w=60`` and ``RateLimit: "burst";r=50;t=30``, and a refused
request gets 429 with ``Retry-After``.

Every check counts, allowed or not: counting only what is allowed would take a read and a
conditional write instead of one atomic add, and a client that ignores ``Retry-After`` only
keeps itself refused until the window ends.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from services.kit.settings import Settings
from services.kit.store import Store

log = logging.getLogger("feather.gateway.ratelimit")

COLLECTION = "ratelimits"
# Policy names go into header fields as quoted strings and into counter keys as they are.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# Longer subjects are hashed: counter keys stay short whatever the caller passes.
MAX_SUBJECT = 128
WARN_EVERY_S = 60.0


@dataclass(frozen=True)
class Policy:
    """At most ``quota`` units per ``window_s`` seconds."""

    name: str
    quota: int
    window_s: int

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"a policy name is letters, digits, '_', '.' and '-': {self.name!r}")
        if self.quota < 0 or self.window_s < 1:
            raise ValueError(f"policy {self.name!r} needs a quota >= 0 and a window >= 1 s")

    def header(self) -> str:
        """This policy as an item of the RateLimit-Policy field."""
        return f'"{self.name}";q={self.quota};w={self.window_s}'


@dataclass(frozen=True)
class Decision:
    policy: Policy
    remaining: int
    reset_s: int
    allowed: bool

    def header(self) -> str:
        """This decision as the RateLimit field's item."""
        return f'"{self.policy.name}";r={self.remaining};t={self.reset_s}'

    @property
    def retry_after(self) -> int:
        """Seconds until the window that refused this ends."""
        return max(1, self.reset_s)


def _subject_key(subject: str) -> str:
    # Percent-encoding keeps ":" for the key's own separators (so "a:b" and "a%3Ab" stay two
    # subjects) and turns anything odd (NUL, lone surrogates) into plain ASCII both stores take.
    safe = quote(subject, safe="", errors="surrogatepass")
    if len(safe) <= MAX_SUBJECT:
        return safe
    return "sha256-" + hashlib.sha256(safe.encode()).hexdigest()


class Limiter:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self._warned_at = -math.inf

    async def check(self, policy: Policy, subject: str, cost: int = 1) -> Decision:
        """Count ``cost`` units against ``subject``'s current window of ``policy``."""
        if cost < 0:
            raise ValueError(f"a cost is not negative: {cost}")
        now = self.clock()
        start = int(now // policy.window_s) * policy.window_s
        end = start + policy.window_s
        reset = max(1, math.ceil(end - now))
        key = f"{policy.name}:{_subject_key(subject)}:{start}"
        try:
            total = await self.store.hit(COLLECTION, key, cost=cost, expires_at=end)
        except Exception:
            # Fail open: limits protect the platform from heavy callers, and a store outage
            # must not turn into refusing (or failing) every request on top. What was not
            # counted is reported as not spent.
            self._warn(now)
            return Decision(policy, policy.quota, reset, True)
        return Decision(policy, max(0, policy.quota - total), reset, total <= policy.quota)

    async def check_all(self, checks: Sequence[tuple[Policy, str]]) -> list[Decision]:
        """One check per (policy, subject), concurrently; every one counts."""
        return list(await asyncio.gather(*(self.check(policy, subject) for policy, subject in checks)))

    def _warn(self, now: float) -> None:
        # Once a minute at most: during an outage every request would log it otherwise.
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning("rate limits not enforced: the store failed to count", exc_info=True)


def _closest(decisions: Sequence[Decision]) -> Decision:
    """The decision the RateLimit field reports: the one a client must heed first."""
    denied = [d for d in decisions if not d.allowed]
    if denied:
        return max(denied, key=lambda d: d.reset_s)

    def left(d: Decision) -> tuple[float, int, int]:
        share = d.remaining / d.policy.quota if d.policy.quota else 0.0
        return share, d.remaining, -d.reset_s

    return min(decisions, key=left)


def answer_headers(decisions: Sequence[Decision]) -> dict[str, str]:
    """RateLimit-Policy (every policy), RateLimit (the closest to its limit), Retry-After if refused."""
    if not decisions:
        return {}
    policies = dict.fromkeys(d.policy for d in decisions)
    closest = _closest(decisions)
    headers = {"RateLimit-Policy": ", ".join(p.header() for p in policies),
               "RateLimit": closest.header()}
    if not closest.allowed:
        headers["Retry-After"] = str(closest.retry_after)
    return headers


MINUTE = 60


def policies(settings: Settings) -> dict[str, Policy]:
    """The per-minute policies the settings name, by name."""
    return {name: Policy(name, quota, MINUTE) for name, quota in (
        ("address", settings.rate_address_per_min), ("anonymous", settings.rate_anonymous_per_min),
        ("anonymous-runs", settings.rate_anonymous_runs_per_min), ("user", settings.rate_user_per_min),
        ("token", settings.rate_token_per_min), ("runs", settings.rate_runs_per_min),
        ("login-account", settings.rate_login_per_account_min),
        ("login-address", settings.rate_login_per_address_min))}
