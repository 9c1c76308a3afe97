"""Runs rolled up into time buckets, with no I/O.

A bucket counts the runs of one model, version, step and status that ended in one minute or one
hour, with histograms of their latency, queue time and model time. The histograms have fixed,
log-spaced bins (ten a decade, from 0.1 ms), so buckets merge by adding counts and any percentile
over any window comes from the merged counts, within a bin's width (26%). A bucket is a store
document updated by ``apply`` with increments, once per event.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

RESOLUTIONS = {"1m": 60, "1h": 3600}
TIMES = ("total_ms", "queue_ms", "predict_ms")
STATUSES = ("succeeded", "failed", "timed_out", "canceled")
ERRORS = ("failed", "timed_out", "canceled")
REQUESTED = "requested"  # the status of the buckets that count requests
BINS_PER_DECADE = 10
SMALLEST_MS = 0.1
BINS = 80  # 0.1 ms to 10^7 ms (close to three hours); longer times fall in the last bin


def bin_of(ms: float) -> int:
    if ms <= SMALLEST_MS:
        return 0
    return min(BINS - 1, int(math.log10(ms / SMALLEST_MS) * BINS_PER_DECADE))


def bin_bounds(index: int) -> tuple[float, float]:
    low = SMALLEST_MS * 10 ** (index / BINS_PER_DECADE)
    return (0.0 if index == 0 else low), SMALLEST_MS * 10 ** ((index + 1) / BINS_PER_DECADE)


def field(time: str, index: int) -> str:
    return f"{time}_h{index:02d}"


def bucket_start(at: datetime, resolution: str) -> datetime:
    seconds = RESOLUTIONS[resolution]
    epoch = int(at.timestamp()) // seconds * seconds
    return datetime.fromtimestamp(epoch, timezone.utc)


def bucket_key(model_id: str, version: int, step: str, status: str | None, resolution: str, start: datetime) -> str:
    """A bucket's key; profile buckets (see profiles.py) hold every status and have none."""
    at = start.strftime('%Y-%m-%dT%H:%M')
    return f"{model_id}|{version}|{step}|{resolution}|{at}" if status is None else \
        f"{model_id}|{version}|{step}|{status}|{resolution}|{at}"


def bucket_fields(model_id: str, version: int, step: str, status: str | None, resolution: str,
                  start: datetime) -> dict[str, Any]:
    fields = {"model_id": model_id, "version": version, "step": step, "resolution": resolution,
              "start": start.isoformat()}
    return fields if status is None else {**fields, "status": status}


def completion_increments(times: Mapping[str, float | None]) -> dict[str, int | float]:
    """What one ended run adds to its bucket: one run, and one count in each time's histogram."""
    changes: dict[str, int | float] = {"runs": 1}
    for time in TIMES:
        value = times.get(time)
        if value is None:
            continue
        value = max(0.0, float(value))
        changes[field(time, bin_of(value))] = 1
        # whole microseconds: integer sums come out the same in any order of events
        changes[f"{time}_sum_us"] = round(value * 1000)
        changes[f"{time}_n"] = 1
    return changes


def merged(buckets: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """The sum of every counter of ``buckets``."""
    total: dict[str, float] = {}
    for bucket in buckets:
        for name, value in bucket.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and name not in ("version", "_v"):
                total[name] = total.get(name, 0) + value
    return total


def percentile(counts: Mapping[str, float], time: str, q: float) -> float | None:
    """The ``q``-th percentile (0..100) of ``time`` from histogram counts: the geometric middle of
    the bin the rank falls in (the bin's upper bound for the first, open-ended bin)."""
    n = sum(counts.get(field(time, i), 0) for i in range(BINS))
    if n == 0:
        return None
    rank = max(1, math.ceil(q / 100 * n))
    seen = 0.0
    for i in range(BINS):
        seen += counts.get(field(time, i), 0)
        if seen >= rank:
            low, high = bin_bounds(i)
            return round(high if low == 0 else math.sqrt(low * high), 3)
    return None  # pragma: no cover - the ranks add up to n


def summary(counts: Mapping[str, float]) -> dict[str, Any]:
    """Totals of merged buckets (all statuses together): the shape the metrics answer has always had."""
    runs = int(sum(counts.get(f"{s}_runs", 0) for s in STATUSES))
    errors = {s: int(counts.get(f"{s}_runs", 0)) for s in ERRORS}
    failures = errors["failed"] + errors["timed_out"]
    answer: dict[str, Any] = {
        "runs": runs,
        "requested": int(counts.get(f"{REQUESTED}_runs", 0)),
        "succeeded": int(counts.get("succeeded_runs", 0)),
        "errors": failures,
        "errors_by_kind": errors,
        "error_rate": round(failures / runs, 4) if runs else 0.0,
    }
    for time, name in (("total_ms", "latency_ms"), ("queue_ms", "queue_ms"), ("predict_ms", "predict_ms")):
        n = counts.get(f"{time}_n", 0)
        answer[name] = {"p50": percentile(counts, time, 50), "p95": percentile(counts, time, 95),
                        "p99": percentile(counts, time, 99),
                        "mean": round(counts.get(f"{time}_sum_us", 0) / n / 1000, 3) if n else None}
    return answer


def by_status(buckets: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Merged counters with each bucket's ``runs`` counted under its status too (``failed_runs``...)."""
    total: dict[str, float] = {}
    for bucket in buckets:
        counts = merged([bucket])
        runs = counts.pop("runs", 0)
        if bucket["status"] == REQUESTED:  # requests have no times, and are not ended runs
            counts = {}
        counts[f"{bucket['status']}_runs"] = runs
        for name, value in counts.items():
            total[name] = total.get(name, 0) + value
    return total


def series(buckets: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One summary per bucket start, oldest first."""
    starts: dict[str, list[Mapping[str, Any]]] = {}
    for bucket in buckets:
        starts.setdefault(bucket["start"], []).append(bucket)
    return [{"start": start, **summary(by_status(group))} for start, group in sorted(starts.items())]


def expired_before(now: datetime, resolution: str, minute_days: float, hour_days: float) -> datetime:
    return now - timedelta(days=minute_days if resolution == "1m" else hour_days)
