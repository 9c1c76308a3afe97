"""Summaries of runs, with no I/O."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(stats: dict[str, Any] | None, recent: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Totals from the running counters, latency from the most recent completed runs."""
    stats = stats or {}
    total = [r["total_ms"] for r in recent if r.get("total_ms") is not None]
    predict = [r["predict_ms"] for r in recent if r.get("predict_ms") is not None]
    runs = int(stats.get("completed", 0))
    errors = int(stats.get("failed", 0)) + int(stats.get("timed_out", 0))
    return {
        "runs": runs,
        "requested": int(stats.get("requested", 0)),
        "succeeded": int(stats.get("succeeded", 0)),
        "errors": errors,
        "error_rate": round(errors / runs, 4) if runs else 0.0,
        "latency_ms": {"p50": percentile(total, 50), "p95": percentile(total, 95),
                       "p99": percentile(total, 99)},
        "predict_ms": {"p50": percentile(predict, 50), "p95": percentile(predict, 95)},
        "window": len(recent),
    }
