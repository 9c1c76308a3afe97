"""Profiles of runs' inputs and outputs per bucket, with no I/O.

A profile bucket holds, for each feature of one model, version and step over a minute or an
hour (see features.py): how many runs had it and how many lacked it; for numbers their sum and a
quantile sketch; for categories the count of each value. Like the rollups, every counter is an
increment, so buckets merge by adding and any window's profile comes from its buckets.

The sketch has logarithmic bins with a relative accuracy of 2% (DDSketch's mapping): a value v
falls in bin ceil(log(|v|) / log(gamma)), with gamma = 1.02 / 0.98, negatives in bins of their
own and values near zero in one; a quantile is read back as its bin's middle, within 2% of the
true value (bins are named p<index>, n<index> for negatives, and 0). Categories keep their first ``TOP_CATEGORIES`` values in a bucket and count the rest
as ``OTHER``, so that a model answering a new label every run cannot grow a bucket for ever.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote

ACCURACY = 0.02
GAMMA = (1 + ACCURACY) / (1 - ACCURACY)
NEAR_ZERO = 1e-9
TOP_CATEGORIES = 50
OTHER = "(other)"
MAX_CATEGORY_CHARS = 100
QUANTILES = (5, 25, 50, 75, 95)
SHOWN_CATEGORIES = 10

# counter names: "<what>~<feature>[~<bin or value>]", percent-encoded so that any feature or
# value makes a valid top-level field name in both stores (no ".", no leading "$")
_SEEN, _MISSING, _SUM, _BIN, _CATEGORY = "n", "m", "s", "q", "c"


def _encode(text: str) -> str:
    return quote(text, safe="").replace(".", "%2E").replace("~", "%7E")


def counter(kind: str, feature: str, part: str | None = None) -> str:
    return f"{kind}~{_encode(feature)}" + ("" if part is None else f"~{_encode(part)}")


MAX_INDEX = 2000  # bins up to about 1e69 either way; larger values share the outermost, so a bucket stays small


def sketch_bin(value: float) -> str:
    if abs(value) < NEAR_ZERO or not math.isfinite(value):
        return "0"
    index = max(-MAX_INDEX, min(MAX_INDEX, math.ceil(math.log(abs(value)) / math.log(GAMMA))))
    return f"{'n' if value < 0 else 'p'}{index}"


def bin_value(name: str) -> float:
    """The middle of a sketch bin: within ``ACCURACY`` of every value in it."""
    if name == "0":
        return 0.0
    index = int(name[1:])
    middle = 2 * GAMMA ** index / (GAMMA + 1)
    return -middle if name[0] == "n" else middle


def increments(row: Mapping[str, Any], bucket: Mapping[str, Any] | None) -> dict[str, int | float]:
    """What one run's feature row adds to a profile bucket that now holds ``bucket``."""
    changes: dict[str, int | float] = {}
    for feature, value in row.items():
        if value is None:
            changes[counter(_MISSING, feature)] = 1
            continue
        changes[counter(_SEEN, feature)] = 1
        if isinstance(value, float):
            changes[counter(_SUM, feature)] = value
            changes[counter(_BIN, feature, sketch_bin(value))] = 1
        else:
            changes[_category_counter(feature, str(value)[:MAX_CATEGORY_CHARS], bucket or {})] = 1
    return changes


def _category_counter(feature: str, value: str, bucket: Mapping[str, Any]) -> str:
    name = counter(_CATEGORY, feature, value)
    if name in bucket:
        return name
    prefix = counter(_CATEGORY, feature) + "~"
    if sum(1 for key in bucket if key.startswith(prefix)) >= TOP_CATEGORIES:
        return counter(_CATEGORY, feature, OTHER)
    return name


def merged(buckets: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for bucket in buckets:
        for name, value in bucket.items():
            if "~" in name and isinstance(value, (int, float)):
                total[name] = total.get(name, 0) + value
    return total


def profile(counts: Mapping[str, float]) -> list[dict[str, Any]]:
    """Each feature's profile from merged counters, by name: numbers with count, missing, mean
    and quantiles; categories with count, missing and their most frequent values."""
    parts: dict[str, dict[str, Any]] = {}
    for name, value in counts.items():
        kind, feature, *rest = name.split("~")
        entry = parts.setdefault(unquote(feature), {"count": 0, "missing": 0, "sum": 0.0, "bins": {}, "values": {}})
        if kind == _SEEN:
            entry["count"] += value
        elif kind == _MISSING:
            entry["missing"] += value
        elif kind == _SUM:
            entry["sum"] += value
        elif kind == _BIN:
            entry["bins"][rest[0]] = entry["bins"].get(rest[0], 0) + value
        elif kind == _CATEGORY:
            entry["values"][unquote(rest[0])] = entry["values"].get(unquote(rest[0]), 0) + value
    return [_described(feature, entry) for feature, entry in sorted(parts.items())]


def _described(feature: str, entry: dict[str, Any]) -> dict[str, Any]:
    count, missing = int(entry["count"]), int(entry["missing"])
    described: dict[str, Any] = {"field": feature, "count": count, "missing": missing,
                                 "missing_share": round(missing / (count + missing), 4) if count + missing else 0.0}
    if entry["bins"]:
        ordered = sorted(entry["bins"].items(), key=lambda item: bin_value(item[0]))
        described.update(type="number", mean=round(entry["sum"] / count, 6) if count else None,
                         min=round(bin_value(ordered[0][0]), 6), max=round(bin_value(ordered[-1][0]), 6),
                         quantiles={f"p{q}": _quantile(ordered, count, q) for q in QUANTILES})
    elif entry["values"]:
        top = sorted(entry["values"].items(), key=lambda item: (-item[1], item[0]))
        described.update(type="category", distinct=len(top),
                         top=[{"value": v, "count": int(n)} for v, n in top[:SHOWN_CATEGORIES]])
    else:
        described["type"] = "missing"
    return described


def _quantile(ordered: list[tuple[str, float]], count: int, q: int) -> float | None:
    rank = max(1, math.ceil(q / 100 * count))
    seen = 0.0
    for name, n in ordered:
        seen += n
        if seen >= rank:
            return round(bin_value(name), 6)
    return None  # pragma: no cover - the bins add up to count
