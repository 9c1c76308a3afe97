"""Runs rolled up into buckets: percentiles from merged histograms, the same rollups from any
replay of the events, the metrics answer over a window, and retention."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import httpx
import numpy as np
import pytest
from harness import as_gateway, settings_for

from services.contracts.envelope import Envelope
from services.contracts.events import RunCompleted, RunRequested
from services.kit.store import Query, SqliteStore
from services.telemetry import handlers, rollups
from services.telemetry.app import create_app

NOW = datetime(2026, 12, 1, 12, 0, 30, tzinfo=timezone.utc)


def envelope(event, event_id: str) -> Envelope:
    return Envelope(id=event_id, type=event.name, source="test", time=NOW, event=event)


def history(n: int = 60, seed: int = 7) -> list[Envelope]:
    """n runs over the hour before NOW, of two versions; one in ten fails, one in twenty times out."""
    rng = random.Random(seed)
    events = []
    for i in range(n):
        at = NOW - timedelta(minutes=rng.uniform(0, 59))
        status = "failed" if i % 10 == 3 else "timed_out" if i % 20 == 7 else "succeeded"
        total = rng.lognormvariate(3, 0.6)
        events.append(envelope(RunRequested(run_id=f"r{i}", model_id="t/m", version=1 + i % 2, step="s",
                                            inputs={}, requested_at=at), f"q{i}"))
        events.append(envelope(RunCompleted(run_id=f"r{i}", model_id="t/m", version=1 + i % 2, step="s",
                                            status=status, requested_at=at, completed_at=at + timedelta(milliseconds=total),
                                            queue_ms=total / 4, predict_ms=total / 2), f"c{i}"))
    return events


async def rollups_of(store: SqliteStore) -> dict[str, dict]:
    page = await store.find("rollups", Query(limit=1000))
    return {d["_id"]: {k: v for k, v in d.items() if k != "_v"} for d in page.items}


def test_a_percentile_from_the_histogram_is_within_a_bin_of_the_exact_one():
    rng = np.random.default_rng(1)
    values = rng.lognormal(4, 1, 5000)
    counts: dict[str, float] = {}
    for value in values:
        for name, amount in rollups.completion_increments({"total_ms": float(value)}).items():
            counts[name] = counts.get(name, 0) + amount
    for q in (50, 95, 99):
        exact = float(np.percentile(values, q, method="inverted_cdf"))
        assert abs(rollups.percentile(counts, "total_ms", q) / exact - 1) < 0.13, q  # half a bin
    assert rollups.percentile({}, "total_ms", 50) is None


async def test_any_replay_of_the_run_events_rebuilds_the_same_rollups(tmp_path):
    events = history()
    replayed = events + random.Random(3).sample(events, 40)  # redelivered, and out of order
    random.Random(4).shuffle(replayed)
    first, second = SqliteStore(str(tmp_path / "a.db")), SqliteStore(str(tmp_path / "b.db"))
    for store, stream in ((first, events), (second, replayed)):
        await store.start()
        for env in stream:
            await handlers.on_run(store, env)
    try:
        built, rebuilt = await rollups_of(first), await rollups_of(second)
        assert built == rebuilt and len(built) > 10
        minutes = [b for b in built.values() if b["resolution"] == "1m"]
        hours = [b for b in built.values() if b["resolution"] == "1h"]
        assert rollups.merged(minutes)["runs"] == rollups.merged(hours)["runs"] == 120  # requests and ends
    finally:
        await first.close()
        await second.close()


@pytest.fixture
async def telemetry(tmp_path):
    app = create_app(settings_for(tmp_path))
    async with app.router.lifespan_context(app):
        store = app.state.service.ctx.store
        for env in history():
            await handlers.on_run(store, env)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                     headers=as_gateway(app.state.service.ctx.settings)) as http:
            yield http


async def test_metrics_over_a_window_give_totals_and_a_series_of_buckets(telemetry):
    window = {"from": (NOW - timedelta(hours=1)).isoformat(), "to": NOW.isoformat()}
    answer = (await telemetry.get("/v1/models/t/m/metrics", params=window)).json()
    assert answer["step"] == "1m" and answer["requested"] == 60 and answer["runs"] == 60
    assert answer["errors_by_kind"] == {"failed": 6, "timed_out": 3, "canceled": 0}
    assert answer["errors"] == 9 and answer["error_rate"] == 0.15
    assert answer["latency_ms"]["p50"] <= answer["latency_ms"]["p95"] <= answer["latency_ms"]["p99"]
    assert sum(b["runs"] for b in answer["series"]) == 60
    assert [b["start"] for b in answer["series"]] == sorted(b["start"] for b in answer["series"])

    hourly = (await telemetry.get("/v1/models/t/m/metrics", params={**window, "step": "1h"})).json()
    assert hourly["runs"] == 60 and len(hourly["series"]) <= 2
    one = (await telemetry.get("/v1/models/t/m/metrics", params={**window, "version": 2})).json()
    assert one["runs"] == 30
    before = (await telemetry.get("/v1/models/t/m/metrics",
                                  params={"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z"})).json()
    assert before["runs"] == 0 and before["series"] == [] and before["latency_ms"]["p50"] is None


@pytest.mark.parametrize("query", [{"step": "5m"}, {"from": "2026-12-01T12:00:00Z", "to": "2026-12-01T11:00:00Z"},
                                   {"version": 0}, {"from": "yesterday"}])
async def test_a_window_that_makes_no_sense_is_refused(telemetry, query):
    answer = await telemetry.get("/v1/models/t/m/metrics", params=query)
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"][0] == "query"


async def test_buckets_past_their_retention_are_deleted(tmp_path):
    store = SqliteStore(str(tmp_path / "t.db"))
    await store.start()
    for env in history():
        await handlers.on_run(store, env)
    try:
        later = NOW + timedelta(days=8)  # the minute buckets are past 7 days, the hour ones are not
        gone = await handlers.sweep_rollups(store, later, minute_days=7, hour_days=90)
        left = await rollups_of(store)
        assert gone > 0 and {b["resolution"] for b in left.values()} == {"1h"}
        assert await handlers.sweep_rollups(store, NOW + timedelta(days=91), minute_days=7, hour_days=90) == len(left)
    finally:
        await store.close()


async def test_a_version_number_past_what_a_store_holds_is_refused_not_a_server_error(telemetry):
    answer = await telemetry.get("/v1/models/t/m/metrics", params={"version": 31510382791121043456})
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["query", "version"]
