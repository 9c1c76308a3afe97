"""The registry follows each version's build."""
from __future__ import annotations

from services.contracts.envelope import Envelope
from services.contracts.events import BuildFailed, BuildStarted, ImageBuilt
from services.contracts.versions import status_after, version_key
from services.kit.store import Store


async def on_build(store: Store, envelope: Envelope) -> None:
    event = envelope.event
    if isinstance(event, BuildStarted):
        status, extra = "building", {"build_id": event.build_id}
    elif isinstance(event, ImageBuilt):
        status, extra = "ready", {"runtime": event.runtime, "error": None,
                                  "build_log": event.log.model_dump() if event.log else None}
    elif isinstance(event, BuildFailed):
        status, extra = "failed", {"error": event.error,
                                   "build_log": event.log.model_dump() if event.log else None}
    else:
        return
    key = version_key(event.model_id, event.version)
    current = await store.get("versions", key)
    new_status = status_after(current["status"] if current else "building", status)
    await store.apply("versions", key, {"status": new_status, **extra}, event_id=envelope.id,
                      on_create={"model_id": event.model_id, "version": event.version})
