"""Reads telemetry's answers share with its alert rules: a window's buckets, feedback and drift."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from services.contracts.models import serving_version
from services.contracts.versions import version_key
from services.kit.store import Order, Query, Store
from services.telemetry import drift, features, rollups
from services.telemetry.handlers import ENDED


async def all_of(store: Store, collection: str, where: dict[str, Any]) -> list[dict[str, Any]]:
    """Every document of ``collection`` that matches ``where``, page by page."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await store.find(collection, Query(where=where, limit=500, cursor=cursor))
        found += page.items
        if not (cursor := page.next_cursor):
            return found


async def _newest_within(store: Store, collection: str, where: dict[str, Any], field: str, first: str,
                         last: str) -> list[dict[str, Any]]:
    """The documents whose ``field`` lies in [first, last), read newest first so that a recent
    window reads little more than itself."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await store.find(collection, Query(where=where, order=Order(field, descending=True), limit=500,
                                                  cursor=cursor))
        found += [d for d in page.items if first <= d[field] < last]
        if not (cursor := page.next_cursor) or (page.items and page.items[-1][field] < first):
            return found


async def buckets(store: Store, model_id: str, start: datetime, end: datetime, step: str,
                  version: int | None = None, *, collection: str = "rollups") -> list[dict[str, Any]]:
    """The model's buckets of ``step`` that overlap [start, end): of run times (``rollups``) or
    of profiles (``profiles``)."""
    where: dict[str, Any] = {"model_id": model_id, "resolution": step}
    if version is not None:
        where["version"] = version
    return await _newest_within(store, collection, where, "start", rollups.bucket_start(start, step).isoformat(),
                                end.isoformat())


async def feedback_in(store: Store, model_id: str, start: datetime, end: datetime,
                      version: int | None = None) -> list[dict[str, Any]]:
    """Each caller's latest feedback on the model's runs, last given within [start, end)."""
    where: dict[str, Any] = {"model_id": model_id}
    if version is not None:
        where["version"] = version
    return await _newest_within(store, "feedback", where, "given_at", start.isoformat(), end.isoformat())


REFERENCE_ROWS = 1000
CURRENT_ROWS = 5000


async def current_version(store: Store, model_id: str) -> int | None:
    """The version that serves the model (its owner's deployment), else its newest one."""
    page = await store.find("versions", Query(where={"model_id": model_id}, order=Order("version", descending=True),
                                              limit=1))
    newest = page.items[0]["version"] if page.items else None
    return serving_version(await store.get("models", model_id) or {}, newest)


async def ended_runs(store: Store, model_id: str, version: int, *, start: str | None, end: str | None,
                newest_first: bool, limit: int) -> list[dict]:
    """Ended runs of the version, oldest or newest first, within [start, end) when given."""
    found, cursor = [], None
    while len(found) < limit:
        page = await store.find("runs", Query(where={"model_id": model_id, "version": version},
                                                  order=Order("requested_at", descending=newest_first),
                                                  limit=500, cursor=cursor))
        for run in page.items:
            at = run.get("requested_at") or ""
            if run.get("status") in ENDED and (start is None or at >= start) and (end is None or at < end):
                found.append(run)
        last = page.items[-1].get("requested_at") or "" if page.items else ""
        past = (newest_first and start is not None and last < start) or \
            (not newest_first and end is not None and last >= end)
        if not (cursor := page.next_cursor) or past:
            break
    return found[:limit]


def feature_rows(runs: list[dict], kinds: dict) -> list[dict]:
    """Each run's features: as kept when it was profiled (its images measured), else from its
    values."""
    return [run.get("features") or features.of_run(kinds.get(run.get("step"), {}), run) for run in runs]


async def drift_of(store: Store, model_id: str, version: int | None, start: datetime,
                   end: datetime) -> dict[str, Any] | None:
    """The version's (by default the one deployed) inputs and outputs over [start, end) against its
    reference: its first 1,000 ended runs, or the window its owner pinned. None without runs."""
    version = version or await current_version(store, model_id)
    if version is None:
        return None
    kinds = ((await store.get("versions", version_key(model_id, version))) or {}).get("kinds") or {}
    pin = await store.get("drift_references", version_key(model_id, version))
    if pin is not None:
        reference = await ended_runs(store, model_id, version, start=pin["from"], end=pin["to"], newest_first=False,
                                     limit=CURRENT_ROWS)
        chosen: dict[str, Any] = {"pinned": True, "from": pin["from"], "to": pin["to"]}
    else:
        reference = await ended_runs(store, model_id, version, start=None, end=None, newest_first=False,
                                     limit=REFERENCE_ROWS)
        chosen = {"pinned": False, "first_runs": REFERENCE_ROWS}
    current = await ended_runs(store, model_id, version, start=start.isoformat(), end=end.isoformat(),
                               newest_first=True, limit=CURRENT_ROWS)
    return {"model": model_id, "version": version, "from": start.isoformat(), "to": end.isoformat(),
            "reference": chosen, **drift.report(feature_rows(reference, kinds), feature_rows(current, kinds))}
