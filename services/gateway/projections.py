"""The gateway's read models: models and versions (to validate and route runs) and runs.

Every update is one idempotent store write keyed by the event id, so redelivery is harmless.
"""
from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from services.contracts.envelope import Envelope
from services.contracts.events import (BuildFailed, BuildStarted, ImageBuilt, ModelDeleted,
                                       ModelPublished, ModelUpdated, RunCompleted, RunOutput, RunProgress,
                                       RunStarted)
from services.contracts.versions import status_after, version_key
from services.kit.store import Conflict, Store


class Projections:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._seen: dict[str, asyncio.Event] = {}

    def seen(self, key: str) -> asyncio.Event:
        """Set once the version ``owner/name@N`` is in the projection (read-your-writes)."""
        return self._seen.setdefault(key, asyncio.Event())

    async def on_model(self, envelope: Envelope) -> None:
        event = envelope.event
        if isinstance(event, ModelPublished):
            key = version_key(event.model_id, event.version)
            await self.store.apply("versions", key, {"manifest": event.manifest}, event_id=envelope.id,
                                   on_create={"model_id": event.model_id, "version": event.version,
                                              "status": "building", "created_at": event.published_at.isoformat()})
            await self.store.apply("models", event.model_id, {
                "description": event.description, "latest_version": event.version, "deleted": False,
                "task": event.manifest.get("task"), "updated_at": event.published_at.isoformat()}, event_id=envelope.id,
                on_create={"owner": event.owner, "name": event.model_name, "visibility": "public",
                           "created_at": event.published_at.isoformat()})
            self.seen(key).set()
        elif isinstance(event, ModelUpdated):
            changes = {k: v for k, v in (("description", event.description), ("visibility", event.visibility),
                                         ("public_metrics", event.public_metrics),
                                         ("deployment", event.deployment)) if v is not None}
            await self.store.apply("models", event.model_id, changes, event_id=envelope.id)
        elif isinstance(event, ModelDeleted):
            await self.store.apply("models", event.model_id, {"deleted": True, "deployment": None}, event_id=envelope.id)

    async def on_build(self, envelope: Envelope) -> None:
        event = envelope.event
        changes: dict[str, Any]
        if isinstance(event, BuildStarted):
            status, changes = "building", {}
        elif isinstance(event, ImageBuilt):
            status, changes = "ready", {"error": None, "build_log": _ref(event.log), "build_ms": event.duration_ms}
        elif isinstance(event, BuildFailed):
            status, changes = "failed", {"error": event.error, "build_log": _ref(event.log)}
        else:
            return
        key = version_key(event.model_id, event.version)
        current = await self.store.get("versions", key)
        changes["status"] = status_after(current.get("status", "building") if current else None, status)
        await self.store.apply("versions", key, changes, event_id=envelope.id,
                               on_create={"model_id": event.model_id, "version": event.version})

    async def on_run(self, envelope: Envelope) -> None:
        event = envelope.event
        if isinstance(event, (RunStarted, RunProgress, RunOutput)):
            # these travel outside the outbox and may overtake the completion: never undo it.
            # The write is conditional on the version read, so a completion written in between wins.
            current = await self.store.get("runs", event.run_id)
            if current is None or current.get("status") not in ("queued", "running"):
                return
            changes: dict[str, Any] = {"status": "running"}
            if isinstance(event, RunStarted):
                changes["started_at"] = event.started_at.isoformat()
            elif isinstance(event, RunOutput):
                if event.seq <= current.get("output_seq", 0):
                    return  # an older view of the outputs than the one kept
                changes.update(outputs=event.outputs, output_seq=event.seq)
            else:
                changes["progress"] = {"fraction": event.fraction, "message": event.message}
                if event.seq is not None:
                    changes["progress_seq"] = event.seq
            with contextlib.suppress(Conflict):
                await self.store.save("runs", event.run_id, {**current, **changes}, expected_version=current["_v"])
        elif isinstance(event, RunCompleted):
            await self.record_completion(envelope)
            await self.count_completion(envelope)

    async def record_completion(self, envelope: Envelope) -> None:
        event = envelope.event
        await self.store.apply("runs", event.run_id, completed_fields(event), event_id=envelope.id)
        await self.store.delete("active_runs", event.run_id)  # no longer counts against the caller's quota

    async def count_completion(self, envelope: Envelope) -> None:
        """The model's run count, which orders the catalogue by popularity."""
        event = envelope.event
        await self.store.apply("models", event.model_id, {}, event_id=envelope.id, increments={"runs": 1},
                               on_create={"owner": event.model_id.split("/")[0], "deleted": True})


def completed_fields(event: RunCompleted) -> dict[str, Any]:
    total_ms = (event.completed_at - event.requested_at).total_seconds() * 1000
    return {"status": event.status, "outputs": event.outputs, "steps": event.steps, "error": event.error,
            "logs": event.logs, "traceback": event.traceback or None,
            "completed_at": event.completed_at.isoformat(),
            "started_at": event.started_at.isoformat() if event.started_at else None,
            "metrics": {"queue_ms": round(event.queue_ms, 3), "predict_ms": round(event.predict_ms, 3),
                        "total_ms": round(total_ms, 3)}}


def _ref(ref: Any) -> dict[str, Any] | None:
    return ref.model_dump() if ref is not None else None
