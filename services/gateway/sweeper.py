"""No run stays queued or running forever: past its deadline (and a grace period for a slow
executor), the gateway ends it as ``timed_out``. Anonymous uploads past their expiry are deleted,
places in the unfinished-runs quota that no unfinished run holds are freed, and idempotency
keys past 24 hours and finished webhook queues past a week are forgotten.

The gateway announces that end with the same event id the executor would use for the run's
completion, so whichever comes first is the one every consumer keeps.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta, timezone

from services.contracts.envelope import stable_id
from services.contracts.events import DEFAULT_DEADLINE_S, RunCompleted, deadline_at
from services.kit.runtime import ServiceContext
from services.contracts.files import blob_key
from services.gateway import idempotency, webhooks
from services.gateway.access import expired
from services.kit.store import Conflict, Order, Query

log = logging.getLogger("feather.gateway.sweeper")
GRACE_S = 60.0
EVERY_S = 15.0


async def sweep_once(ctx: ServiceContext, now: datetime | None = None, grace_s: float = GRACE_S) -> int:
    now = now or datetime.now(timezone.utc)
    ended = 0
    for status in ("queued", "running"):
        cursor = None
        while True:
            page = await ctx.store.find("runs", Query(where={"status": status}, limit=500, cursor=cursor))
            for doc in page.items:
                ends = deadline_at(datetime.fromisoformat(doc["created_at"]), doc.get("deadline_s", DEFAULT_DEADLINE_S))
                if ends + timedelta(seconds=grace_s) < now:
                    ended += await _end(ctx, doc, now)
            if not (cursor := page.next_cursor):
                break
    return ended


async def _end(ctx: ServiceContext, doc: dict, now: datetime) -> int:
    event = RunCompleted(run_id=doc["_id"], model_id=doc["model_id"], version=doc["version"], step=doc["step"],
                         status="timed_out", error="no executor finished this run before its deadline",
                         requested_at=datetime.fromisoformat(doc["created_at"]), completed_at=now)
    with contextlib.suppress(Conflict):  # it ended meanwhile
        await ctx.save("runs", doc["_id"], {**doc, "status": "timed_out", "error": event.error,
                                             "completed_at": now.isoformat()},
                       expected_version=doc["_v"],
                       events=[ctx.outbox(event, event_id=stable_id(doc["_id"], "completed"))])
        log.warning("run %s ended as timed_out by the sweeper", doc["_id"])
        return 1
    return 0


async def sweep_files(ctx: ServiceContext, now: datetime | None = None) -> int:
    """Delete anonymous uploads past their expiry, oldest first; returns how many went."""
    now = now or datetime.now(timezone.utc)
    gone = 0
    while True:
        page = await ctx.store.find("files", Query(where={"anonymous": True}, order=Order("created_at"), limit=200))
        due = [d for d in page.items if expired(d, now)]
        for doc in due:
            await ctx.blobs.delete(blob_key(doc["_id"]))
            await ctx.store.delete("files", doc["_id"])
        gone += len(due)
        # uploads expire in the order they came, so the first one still valid ends the sweep
        if len(due) < len(page.items) or not page.next_cursor:
            return gone


async def sweep_slots(ctx: ServiceContext, now: datetime | None = None) -> int:
    """Let go of places in the unfinished-runs quota that no unfinished run holds: a gateway
    stopped between taking a place and recording its run leaves one behind."""
    now = now or datetime.now(timezone.utc)
    freed, cursor = 0, None
    while True:
        page = await ctx.store.find("active_runs", Query(limit=500, cursor=cursor))
        for slot in page.items:
            run = await ctx.store.get("runs", slot["_id"])
            taken = datetime.fromisoformat(slot.get("taken_at") or now.isoformat())
            if (run is None and taken < now - timedelta(minutes=1)) or \
                    (run is not None and run.get("status") not in ("queued", "running")):
                await ctx.store.delete("active_runs", slot["_id"])
                freed += 1
        if not (cursor := page.next_cursor):
            return freed


async def sweep_forever(ctx: ServiceContext) -> None:
    while True:
        await asyncio.sleep(EVERY_S)
        try:
            await sweep_once(ctx)
            await sweep_files(ctx)
            await sweep_slots(ctx)
            await idempotency.sweep(ctx.store)
            await webhooks.sweep(ctx)
        except asyncio.CancelledError:
            raise
        except Exception:  # a failed sweep is tried again next time
            log.exception("sweeping stuck runs failed")
