"""Rate limits counted in a real SQLite store, against a clock the tests move."""
from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.gateway.ratelimit import Decision, Limiter, Policy, answer_headers
from services.kit.store import SqliteStore

# Window-aligned and far ahead: the store expires counters by the real clock, which must not
# reach these windows while the tests run.
T0 = 60 * 70_000_000
BURST = Policy("burst", quota=3, window_s=60)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    backend = SqliteStore(str(tmp_path / "store.db"))
    await backend.start()
    yield backend
    await backend.close()


async def test_an_exhausted_quota_refuses_until_the_window_ends(store: SqliteStore) -> None:
    clock = Clock(T0 + 45)
    limiter = Limiter(store, clock=clock)
    decisions = [await limiter.check(BURST, "user:alice") for _ in range(4)]
    assert [(d.allowed, d.remaining, d.reset_s) for d in decisions] == [
        (True, 2, 15), (True, 1, 15), (True, 0, 15), (False, 0, 15)]
    assert decisions[-1].retry_after == 15
    clock.now = T0 + 59.5
    assert (await limiter.check(BURST, "user:alice")).retry_after == 1  # never 0
    clock.now = T0 + 60
    fresh = await limiter.check(BURST, "user:alice")
    assert (fresh.allowed, fresh.remaining, fresh.reset_s) == (True, 2, 60)


async def test_subjects_and_policies_count_apart(store: SqliteStore) -> None:
    limiter = Limiter(store, clock=Clock(T0))
    daily = Policy("daily", quota=3, window_s=86400)
    odd = ["a:b", "a%3Ab", "x" * 1000, "x" * 1001, "nul\0", "\udc80", "ünï"]
    for subject in odd:
        assert (await limiter.check(BURST, subject)).remaining == 2
        assert (await limiter.check(daily, subject)).remaining == 2


async def test_limiters_on_one_store_file_share_the_count(store: SqliteStore, tmp_path: Path) -> None:
    # two gateway replicas: two store connections to one database, one limiter each
    other = SqliteStore(str(tmp_path / "store.db"))
    await other.start()
    try:
        clock = Clock(T0 + 10)
        first, second = Limiter(store, clock=clock), Limiter(other, clock=clock)
        policy = Policy("shared", quota=15, window_s=60)
        decisions = await asyncio.gather(*(limiter.check(policy, "addr:10.0.0.1")
                                           for _ in range(10) for limiter in (first, second)))
        assert sum(d.allowed for d in decisions) == 15
        assert sorted(d.remaining for d in decisions) == [0] * 6 + list(range(1, 15))
    finally:
        await other.close()


async def test_a_cost_counts_that_many_units(store: SqliteStore) -> None:
    limiter = Limiter(store, clock=Clock(T0))
    policy = Policy("tokens", quota=10, window_s=60)
    decisions = [await limiter.check(policy, "user:bob", cost=4) for _ in range(3)]
    assert [(d.allowed, d.remaining) for d in decisions] == [(True, 6), (True, 2), (False, 0)]
    assert (await limiter.check(policy, "user:bob", cost=0)).allowed is False  # 12 counted
    with pytest.raises(ValueError):
        await limiter.check(policy, "user:bob", cost=-1)


async def test_a_store_outage_lets_requests_through(store: SqliteStore, monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    async def down(*args: object, **kwargs: object) -> int:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "hit", down)
    limiter = Limiter(store, clock=Clock(T0 + 30))
    with caplog.at_level(logging.WARNING, logger="feather.gateway.ratelimit"):
        decisions = await limiter.check_all([(BURST, "user:alice"), (BURST, "addr:10.0.0.1")])
    assert [(d.allowed, d.remaining, d.reset_s) for d in decisions] == [(True, 3, 30)] * 2
    assert len(caplog.records) == 1  # not once per request


async def test_check_all_counts_every_policy(store: SqliteStore) -> None:
    limiter = Limiter(store, clock=Clock(T0))
    daily = Policy("daily", quota=1000, window_s=86400)
    for _ in range(3):
        await limiter.check_all([(BURST, "user:alice"), (daily, "user:alice")])
    burst, day = await limiter.check_all([(BURST, "user:alice"), (daily, "user:alice")])
    assert (burst.allowed, burst.remaining) == (False, 0)
    assert (day.allowed, day.remaining) == (True, 996)


def test_header_items_are_as_the_draft_writes_them() -> None:
    burst = Policy("burst", quota=100, window_s=60)
    assert burst.header() == '"burst";q=100;w=60'
    assert Decision(burst, remaining=50, reset_s=30, allowed=True).header() == '"burst";r=50;t=30'


def test_answer_headers_report_the_policy_closest_to_its_limit() -> None:
    burst, daily = Policy("burst", 100, 60), Policy("daily", 1000, 86400)
    decisions = [Decision(burst, 50, 30, True), Decision(daily, 100, 3600, True)]
    assert answer_headers(decisions) == {
        "RateLimit-Policy": '"burst";q=100;w=60, "daily";q=1000;w=86400',
        "RateLimit": '"daily";r=100;t=3600',  # 10% left against the burst's 50%
    }


def test_answer_headers_of_a_refusal_name_the_longest_wait() -> None:
    burst, hourly, daily = Policy("burst", 100, 60), Policy("hourly", 500, 3600), Policy("daily", 1000, 86400)
    decisions = [Decision(burst, 0, 30, False), Decision(hourly, 0, 1200, False),
                 Decision(daily, 0, 7200, True)]  # exactly used up, still allowed
    headers = answer_headers(decisions)
    assert headers["RateLimit"] == '"hourly";r=0;t=1200'
    assert headers["Retry-After"] == "1200"
    assert headers["RateLimit-Policy"] == '"burst";q=100;w=60, "hourly";q=500;w=3600, "daily";q=1000;w=86400'


def test_answer_headers_list_a_policy_once() -> None:
    decisions = [Decision(BURST, 2, 10, True), Decision(BURST, 1, 10, True)]
    assert answer_headers(decisions) == {"RateLimit-Policy": '"burst";q=3;w=60',
                                         "RateLimit": '"burst";r=1;t=10'}
    assert answer_headers([]) == {}


@pytest.mark.parametrize("name,quota,window_s", [("", 1, 60), ('a"b', 1, 60), ("a b", 1, 60),
                                                  ("ok", -1, 60), ("ok", 1, 0)])
def test_policies_refuse_what_the_headers_cannot_carry(name: str, quota: int, window_s: int) -> None:
    with pytest.raises(ValueError):
        Policy(name, quota, window_s)


async def test_expired_windows_are_swept_from_the_store_file(store: SqliteStore, tmp_path: Path) -> None:
    past = time.time() - 1
    for i in range(250):
        await store.hit("ratelimits", f"old:{i}", expires_at=past)
    with sqlite3.connect(tmp_path / "store.db") as db:
        (left,) = db.execute("SELECT count(*) FROM hits").fetchone()
    assert left == 50  # swept at the 100th and 200th hit
