"""Telemetry records every run (inputs, outputs, timings, errors) and counts them per model."""
from __future__ import annotations

from services.contracts.envelope import Envelope
from services.contracts.events import FeedbackGiven, RunCompleted, RunRequested, RunStarted
from services.kit.store import Store


async def on_run(store: Store, envelope: Envelope) -> None:
    event = envelope.event
    if isinstance(event, RunRequested):
        # the status events travel on another topic and may be recorded first
        await store.apply("runs", event.run_id, {
            "model_id": event.model_id, "version": event.version, "step": event.step,
            "inputs": event.inputs, "requested_at": event.requested_at.isoformat()},
            event_id=envelope.id, on_create={"status": "queued"})
        await store.apply("model_stats", event.model_id, {}, event_id=envelope.id,
                          on_create={"model_id": event.model_id}, increments={"requested": 1})
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
        await store.apply("model_stats", event.model_id, {}, event_id=envelope.id,
                          on_create={"model_id": event.model_id},
                          increments={"completed": 1, event.status: 1})

async def on_feedback(store: Store, envelope: Envelope) -> None:
    event = envelope.event
    if isinstance(event, FeedbackGiven):
        await store.apply("runs", event.run_id, {"feedback": {"rating": event.rating, "comment": event.comment}},
                          event_id=envelope.id)
