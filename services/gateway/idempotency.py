"""Idempotent creates, by the IETF draft "The Idempotency-Key HTTP Header Field".

A caller that sends ``Idempotency-Key`` may send the same request again (after a timeout, a
dropped connection) without creating a second run or version:

- the same key and the same body within 24 hours answer what the first created, marked with
  ``Idempotent-Replayed: true``;
- the same key with another body is refused (422): the key names one request;
- the same key while the first request is still being accepted is refused (409): retry.

The record is a store document, so every gateway replica sees it; the first request claims it
with a write that fails when it exists. A claim left pending by a gateway that stopped midway
is taken over once it is older than any acceptance can take. Keys are the caller's: a user's
are theirs alone, an anonymous caller's are kept per address.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from services.contracts.requests import RequestError
from services.kit.store import Conflict, Order, Query, Store

HEADER = "Idempotency-Key"
KEPT = timedelta(hours=24)
STALE = timedelta(minutes=2)  # past any acceptance (linked files have fetch_timeout_s, 30 s at most)
_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII, as a header carries it unchanged


def fingerprint(*parts: Any) -> str:
    """What makes two requests the same request: their bodies, as canonical JSON or bytes."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def record_key(scope: str, key: str) -> str:
    return hashlib.sha256(f"{scope}\n{key}".encode()).hexdigest()


def checked(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise RequestError(400, [{"loc": ["header", HEADER], "type": "value_error",
                                  "msg": "1 to 255 visible ASCII characters, such as a UUID"}])
    return key


async def claim(store: Store, scope: str, key: str, fingerprint: str,
                now: datetime | None = None) -> dict[str, Any] | None:
    """None when this request is the first with ``key`` (it now holds the key, and must
    :func:`complete` or :func:`release` it); else what the first request created, to answer again."""
    now = now or datetime.now(timezone.utc)
    doc_key = record_key(scope, checked(key))
    fresh = {"fingerprint": fingerprint, "state": "pending", "at": now.isoformat(), "result": None}
    for _ in range(5):
        current = await store.get("idempotency", doc_key)
        try:
            if current is None:
                await store.save("idempotency", doc_key, fresh, expected_version=None)
                return None
            age = now - datetime.fromisoformat(current["at"])
            if age > KEPT or (current["state"] == "pending" and age > STALE):
                await store.save("idempotency", doc_key, fresh, expected_version=current["_v"])
                return None
        except Conflict:
            continue  # another request claimed or changed it meanwhile: look again
        if current["fingerprint"] != fingerprint:
            raise RequestError(422, [{"loc": ["header", HEADER], "type": "idempotency",
                                      "msg": "this key was used for another request; use a new key for this one"}])
        if current["state"] == "pending":
            raise RequestError(409, "a request with this Idempotency-Key is still being accepted; retry in a moment")
        return current["result"]
    raise RequestError(409, "a request with this Idempotency-Key is still being accepted; retry in a moment")


async def complete(store: Store, scope: str, key: str, result: dict[str, Any]) -> None:
    doc_key = record_key(scope, key)
    current = await store.get("idempotency", doc_key)
    if current is not None:
        await store.save("idempotency", doc_key, {**current, "state": "done", "result": result},
                         expected_version=current["_v"])


async def release(store: Store, scope: str, key: str) -> None:
    """Forget a claim whose request failed: nothing was created, so a retry tries afresh."""
    await store.delete("idempotency", record_key(scope, key))


async def sweep(store: Store, now: datetime | None = None) -> int:
    """Delete the records past 24 hours, oldest first; how many went."""
    cutoff = ((now or datetime.now(timezone.utc)) - KEPT).isoformat()
    gone = 0
    while True:
        page = await store.find("idempotency", Query(order=Order("at"), limit=500))
        due = [d for d in page.items if d["at"] < cutoff]
        for doc in due:
            gone += await store.delete("idempotency", doc["_id"])
        if len(due) < len(page.items) or not page.next_cursor:
            return gone
