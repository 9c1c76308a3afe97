"""Telemetry records every run (inputs, outputs, timings, errors) and rolls the runs up into
per-minute and per-hour buckets: their counts and times (see rollups.py) and the profiles of
their inputs and outputs (see profiles.py)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from services.contracts.envelope import Envelope
from services.contracts.events import (FeedbackGiven, ModelDeleted, ModelPublished, ModelUpdated, RunCompleted,
                                       RunRequested, RunStarted, VoteCast)
from services.contracts.versions import version_key
from services.kit.blobs import BlobStore
from services.kit.store import Order, Query, Store, retry_on_conflict
from services.kit.tracing import trace_id_of
from services.telemetry import features, profiles, rollups

ENDED = ("succeeded", "failed", "timed_out", "canceled")


async def on_run(store: Store, envelope: Envelope, blobs: BlobStore | None = None) -> None:
    event = envelope.event
    if isinstance(event, RunRequested):
        # the status events travel on another topic and may be recorded first
        await store.apply("runs", event.run_id, {
            "model_id": event.model_id, "version": event.version, "step": event.step,
            "inputs": event.inputs, "requested_at": event.requested_at.isoformat(),
            "trace_id": trace_id_of(envelope.traceparent)},
            event_id=envelope.id, on_create={"status": "queued"})
        await roll_up(store, envelope.id, event.model_id, event.version, event.step, rollups.REQUESTED,
                      event.requested_at, {"runs": 1})
    elif isinstance(event, RunStarted):
        await store.apply("runs", event.run_id, {"started_at": event.started_at.isoformat()},
                          event_id=envelope.id, on_create={"model_id": event.model_id, "status": "running"})
    elif isinstance(event, RunCompleted):
        total_ms = (event.completed_at - event.requested_at).total_seconds() * 1000
        await store.apply("runs", event.run_id, {
            "model_id": event.model_id, "version": event.version, "step": event.step,
            "status": event.status, "outputs": event.outputs, "error": event.error,
            "requested_at": event.requested_at.isoformat(),
            "completed_at": event.completed_at.isoformat(), "queue_ms": event.queue_ms,
            "predict_ms": event.predict_ms, "total_ms": total_ms}, event_id=envelope.id)
        increments = rollups.completion_increments(
            {"total_ms": total_ms, "queue_ms": event.queue_ms, "predict_ms": event.predict_ms})
        await roll_up(store, envelope.id, event.model_id, event.version, event.step, event.status,
                      event.completed_at, increments)
    if isinstance(event, (RunRequested, RunCompleted)):
        await profile_run(store, blobs, event.run_id)


async def profile_run(store: Store, blobs: BlobStore | None, run_id: str) -> None:
    """Add an ended run's features to its minute's and hour's profile, once both its request and
    its end are recorded (they travel on different topics, so either may come last), and keep
    them on the run for drift. A run of a version telemetry has not seen is not profiled."""
    run = await store.get("runs", run_id)
    if run is None or run.get("status") not in ENDED or "inputs" not in run or "features" in run:
        return
    version = await store.get("versions", version_key(run["model_id"], run["version"]))
    kinds = ((version or {}).get("kinds") or {}).get(run["step"])
    if kinds is None:
        return
    row = features.of_run(kinds, run, await features.image_facts(blobs, kinds, run) if blobs else None)
    at = datetime.fromisoformat(run["completed_at"])
    for resolution in rollups.RESOLUTIONS:
        start = rollups.bucket_start(at, resolution)
        key = rollups.bucket_key(run["model_id"], run["version"], run["step"], None, resolution, start)
        await store.apply("profiles", key, {}, event_id=f"profile:{run_id}",
                          increments=profiles.increments(row, await store.get("profiles", key)),
                          on_create=rollups.bucket_fields(run["model_id"], run["version"], run["step"], None,
                                                          resolution, start))
    await store.apply("runs", run_id, {"features": row}, event_id=f"features:{run_id}")


async def roll_up(store: Store, event_id: str, model_id: str, version: int, step: str, status: str,
                  at: datetime, increments: dict[str, Any]) -> None:
    """Count one event in its minute's and its hour's bucket, once each."""
    for resolution in rollups.RESOLUTIONS:
        start = rollups.bucket_start(at, resolution)
        await store.apply("rollups", rollups.bucket_key(model_id, version, step, status, resolution, start), {},
                          event_id=event_id, increments=increments,
                          on_create=rollups.bucket_fields(model_id, version, step, status, resolution, start))


async def sweep_rollups(store: Store, now: datetime, *, minute_days: float, hour_days: float) -> int:
    """Delete the buckets (of times and of profiles) past their resolution's retention, oldest
    first; how many went."""
    gone = 0
    for collection, resolution in ((c, r) for c in ("rollups", "profiles") for r in rollups.RESOLUTIONS):
        cutoff = rollups.expired_before(now, resolution, minute_days, hour_days).isoformat()
        while True:
            page = await store.find(collection, Query(where={"resolution": resolution}, order=Order("start"),
                                                      limit=500))
            old = [b for b in page.items if b["start"] < cutoff]
            for bucket in old:
                gone += await store.delete(collection, bucket["_id"])
            if len(old) < len(page.items) or not page.next_cursor:
                break
    return gone


async def on_vote(store: Store, envelope: Envelope) -> None:
    event = envelope.event
    if isinstance(event, VoteCast):
        await store.apply("votes", event.battle_id, {
            "task": event.task, "model_a": event.model_a, "model_b": event.model_b, "winner": event.winner,
            "voter": event.voter, "cast_at": event.cast_at.isoformat()}, event_id=envelope.id)


async def on_model(store: Store, envelope: Envelope) -> None:
    """Keep each version's field kinds (what decides how its inputs and outputs are profiled)
    and the model's deployment (which version drift looks at by default)."""
    event = envelope.event
    if isinstance(event, ModelUpdated) and event.deployment is not None:
        await store.apply("models", event.model_id, {"deployment": event.deployment}, event_id=envelope.id)
    elif isinstance(event, ModelDeleted):
        await store.apply("models", event.model_id, {"deployment": None}, event_id=envelope.id)
    elif isinstance(event, ModelPublished):
        kinds = {step["name"]: {"inputs": {i["name"]: i.get("kind") for i in step.get("inputs", [])},
                                "outputs": {o["name"]: o.get("kind") for o in step.get("outputs", [])}}
                 for step in event.manifest.get("steps", [])}
        await store.apply("versions", version_key(event.model_id, event.version),
                          {"model_id": event.model_id, "version": event.version, "kinds": kinds},
                          event_id=envelope.id)


async def on_feedback(store: Store, envelope: Envelope) -> None:
    """Keep each caller's latest feedback on a run: a revision older than the one kept changes nothing."""
    event = envelope.event
    if not isinstance(event, FeedbackGiven):
        return
    key = f"{event.run_id}|{event.by or ''}"
    doc = {"run_id": event.run_id, "model_id": event.model_id, "version": event.version, "by": event.by,
           "rating": event.rating, "label": event.label, "predicted": event.predicted, "comment": event.comment,
           "revision": event.revision, "given_at": event.given_at.isoformat()}

    async def attempt() -> None:
        current = await store.get("feedback", key)
        if current is not None and current["revision"] >= event.revision:
            return
        await store.save("feedback", key, doc, expected_version=current["_v"] if current else None)
    await retry_on_conflict(attempt)
    await store.apply("runs", event.run_id, {"feedback": {"rating": event.rating, "label": event.label,
                                                          "comment": event.comment}}, event_id=envelope.id)
