"""Which executor runs which job, when several share one store: a lease in the job's record.

A job names the executor holding it (``holder``: its instance id) and until when
(``lease_until``: seconds since the epoch). The holder renews the leases of the jobs it runs
well before they run out. A job whose lease ran out was left by an executor that died or lost
the store; any executor may claim it with one conditional write and run it as one more attempt.
An executor started again under the same instance id (the same pod, the same process name of
``feather up``) takes back its own jobs at once instead of waiting for their leases. Only the
holder records how a job ended, so a job taken over is ended once, by its new holder.
"""
from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from services.kit.store import Conflict, Query, Store

OPEN = ("queued", "running")


@dataclass
class Leases:
    store: Store
    holder: str
    lease_s: float
    held: dict[str, dict[str, Any]] = field(default_factory=dict)  # run id: the job's latest document

    @property
    def renew_every_s(self) -> float:
        # three tries before the lease runs out, so one slow write of the store loses nothing
        return self.lease_s / 3

    def terms(self) -> dict[str, Any]:
        return {"holder": self.holder, "lease_until": time.time() + self.lease_s}

    def hold(self, doc: dict[str, Any]) -> dict[str, Any]:
        self.held[doc["_id"]] = doc
        return doc

    def release(self, run_id: str) -> None:
        self.held.pop(run_id, None)

    def ours(self, doc: dict[str, Any] | None) -> bool:
        """Whether ``doc`` is a job still open and held by this executor."""
        return doc is not None and doc["status"] in OPEN and doc.get("holder") == self.holder

    def claimable(self, doc: dict[str, Any], now: float) -> bool:
        if doc["status"] not in OPEN or doc["_id"] in self.held:
            return False
        # records from before leases have neither field: whoever finds them first takes them
        return doc.get("holder") == self.holder or float(doc.get("lease_until") or 0) < now

    async def claim(self, doc: dict[str, Any]) -> dict[str, Any] | None:
        """Take over ``doc`` as one more attempt; None when another executor was quicker."""
        fields = {**doc, "status": "queued", "attempts": doc["attempts"] + 1, **self.terms()}
        try:
            version = await self.store.save("jobs", doc["_id"], fields, expected_version=doc["_v"])
        except Conflict:
            return None
        return self.hold({**fields, "_id": doc["_id"], "_v": version})

    async def claimable_jobs(self) -> AsyncIterator[dict[str, Any]]:
        now = time.time()
        for status in OPEN:
            cursor = None
            while True:
                page = await self.store.find("jobs", Query(where={"status": status}, limit=200, cursor=cursor))
                for doc in page.items:
                    if self.claimable(doc, now):
                        yield doc
                if not (cursor := page.next_cursor):
                    break

    async def renew(self) -> list[str]:
        """Extend every held lease; returns the jobs this executor no longer holds (another
        executor took them over, or they ended elsewhere), which it should stop running."""
        gone = []
        for run_id, doc in list(self.held.items()):
            terms = self.terms()
            try:
                version = await self.store.save("jobs", run_id, {**doc, **terms}, expected_version=doc["_v"])
            except Conflict:
                if not await self.refresh(run_id):
                    gone.append(run_id)
                continue  # written meanwhile by this executor: renewed next time
            if run_id in self.held:  # not ended while the write was out
                self.held[run_id] = {**doc, **terms, "_v": version}
        return gone

    async def refresh(self, run_id: str) -> bool:
        """Read the job again after a write lost to another; whether this executor still holds it."""
        fresh = await self.store.get("jobs", run_id)
        if fresh is not None and self.ours(fresh):
            self.hold(fresh)
            return True
        self.release(run_id)
        return False

    async def current(self, run_id: str) -> dict[str, Any] | None:
        """The job's document as last written, from memory when this executor holds it."""
        return self.held.get(run_id) or await self.store.get("jobs", run_id)

    async def give_up(self) -> None:
        """Let the jobs held go at once (stopping): another executor may claim them now."""
        for run_id, doc in list(self.held.items()):
            try:
                await self.store.save("jobs", run_id, {**doc, "lease_until": 0}, expected_version=doc["_v"])
            except Conflict:
                pass
            self.release(run_id)
