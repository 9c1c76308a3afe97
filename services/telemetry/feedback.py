"""What callers said of a model's runs, summed up, with no I/O: ratings, and the accuracy of the
model's label output against the labels people gave, per version and over time."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from services.telemetry.rollups import bucket_start


def _tally(items: list[Mapping[str, Any]]) -> dict[str, Any]:
    stars = [f["rating"] for f in items if isinstance(f.get("rating"), int)]
    labelled = [f for f in items if f.get("label") is not None and f.get("predicted") is not None]
    correct = sum(1 for f in labelled if str(f["label"]).strip() == str(f["predicted"]).strip())
    return {
        "feedback": len(items),
        "up": sum(1 for f in items if f.get("rating") == "up"),
        "down": sum(1 for f in items if f.get("rating") == "down"),
        "stars": {"n": len(stars), "mean": round(sum(stars) / len(stars), 3) if stars else None},
        "labelled": len(labelled),
        "correct": correct,
        "accuracy": round(correct / len(labelled), 4) if labelled else None,
    }


def summarize(items: Iterable[Mapping[str, Any]], step: str) -> dict[str, Any]:
    """Totals, per version, and a series by the time feedback was (last) given."""
    items = list(items)
    versions: dict[int, list[Mapping[str, Any]]] = {}
    buckets: dict[str, list[Mapping[str, Any]]] = {}
    for item in items:
        versions.setdefault(int(item.get("version") or 0), []).append(item)
        start = bucket_start(datetime.fromisoformat(item["given_at"]), step).isoformat()
        buckets.setdefault(start, []).append(item)
    return {**_tally(items),
            "versions": {str(v): _tally(group) for v, group in sorted(versions.items())},
            "series": [{"start": start, **_tally(group)} for start, group in sorted(buckets.items())]}
