"""The production Store on MongoDB, through PyMongo's asyncio client.

One MongoDB collection per store collection; ``_id`` is the key and ``_v`` the version. The ids
of the last ``KEEP_APPLIED`` events applied to a document live in its ``_applied`` array, which
is never returned. Outbox records go to ``_outbox`` with ``_id`` = seq, allocated from a counter
document in ``_counters`` inside the same transaction as the state they belong to. Counters
(``hit``) live in ``_hits``, keyed by collection and key, where a TTL index removes them once
expired. Transactions need a replica set (or mongos): ``start()`` refuses a standalone server.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.kit.store.port import KEEP_APPLIED, Conflict, OutboxRecord, Page, ParkedRecord, Query, Store
from services.kit.store.sqlite import (
    RESERVED, check_apply, check_collection, check_field, check_limit, decode_cursor, encode_cursor,
    initial,
)

OUTBOX, COUNTERS, HITS, PARKED = "_outbox", "_counters", "_hits", "_parked"
HIDDEN = {"_applied": 0}


def _after(field: str, value: Any, key: str, desc: bool) -> dict[str, Any]:
    """Documents strictly after (value, key) in the sort order; null/missing sorts lowest."""
    op = "$lt" if desc else "$gt"
    if field == "_id":
        return {"_id": {op: key}}
    if value is None:
        if desc:
            return {field: None, "_id": {"$lt": key}}
        return {"$or": [{field: None, "_id": {"$gt": key}}, {field: {"$ne": None}}]}
    # Comparisons only match values of the same type, so nulls need their own branch.
    after = [{field: {op: value}}, {field: value, "_id": {op: key}}]
    return {"$or": (after + [{field: None}]) if desc else after}


class MongoStore(Store):
    def __init__(self, url: str, database: str) -> None:
        self.url = url
        self.database = database
        self._client: AsyncMongoClient[dict[str, Any]] | None = None

    @property
    def _db(self) -> AsyncDatabase[dict[str, Any]]:
        if self._client is None:
            raise RuntimeError("MongoStore used before start()")
        return self._client[self.database]

    async def start(self) -> None:
        if self._client is not None:
            return
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self.url)
        try:
            hello = await client.admin.command("hello")
            if "setName" not in hello and hello.get("msg") != "isdbgrid":
                # The URL is not in the message: it may hold a password.
                raise RuntimeError("MongoStore needs a replica set or mongos (it uses transactions); "
                                   "this server is a standalone")
            db = client[self.database]
            await db[OUTBOX].create_index([("sent", ASCENDING), ("_id", ASCENDING)])
            await db[COUNTERS].update_one({"_id": "outbox"}, {"$setOnInsert": {"seq": 0}}, upsert=True)
            # The TTL monitor runs about once a minute: until then hit() restarts expired counters.
            await db[HITS].create_index("expires", expireAfterSeconds=0)
        except BaseException:
            await client.close()
            raise
        self._client = client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def get(self, collection: str, key: str) -> dict[str, Any] | None:
        return await self._db[check_collection(collection)].find_one({"_id": key}, HIDDEN)

    async def save(self, collection: str, key: str, doc: Mapping[str, Any], *,
                   expected_version: int | None, events: Sequence[OutboxRecord] = ()) -> int:
        coll = self._db[check_collection(collection)]
        body = {k: v for k, v in doc.items() if k not in RESERVED}
        records = list(events)

        async def write(session: AsyncClientSession | None) -> int:
            if expected_version is None:
                version = 1
                try:
                    await coll.insert_one({"_id": key, **body, "_v": version}, session=session)
                except DuplicateKeyError:
                    raise Conflict(f"{collection}/{key} already exists") from None
            else:
                version, current = expected_version + 1, {"_id": key, "_v": expected_version}
                stale = f"{collection}/{key} is not at version {expected_version}"
                # Keep the applied-event ids: a save must not make old events apply again.
                prev = await coll.find_one(current, {"_applied": 1}, session=session)
                if prev is None:
                    raise Conflict(stale)
                new = {"_id": key, **body, "_v": version}
                if "_applied" in prev:
                    new["_applied"] = prev["_applied"]
                # The _v filter again: an apply between our read and this write bumped it.
                if (await coll.replace_one(current, new, session=session)).matched_count != 1:
                    raise Conflict(stale)
            if records:
                await self._append(records, session)
            return version

        if not records:
            return await write(None)  # one document: atomic without a transaction
        async with self._client.start_session() as session:  # type: ignore[union-attr]
            # with_transaction retries on TransientTransactionError (a concurrent write to the
            # same document or to the seq counter); the retry then sees the new _v and conflicts.
            return await session.with_transaction(write)

    async def _append(self, records: list[OutboxRecord], session: AsyncClientSession | None) -> None:
        counter = await self._db[COUNTERS].find_one_and_update(
            {"_id": "outbox"}, {"$inc": {"seq": len(records)}}, upsert=True,
            return_document=ReturnDocument.AFTER, session=session)
        first = counter["seq"] - len(records) + 1
        await self._db[OUTBOX].insert_many(
            [{"_id": first + i, "topic": r.topic, "key": r.key, "headers": dict(r.headers),
              "body": bytes(r.body), "sent": False} for i, r in enumerate(records)],
            session=session)

    async def apply(self, collection: str, key: str, changes: Mapping[str, Any], *, event_id: str,
                    on_create: Mapping[str, Any] | None = None,
                    increments: Mapping[str, int | float] | None = None) -> bool:
        coll = self._db[check_collection(collection)]
        changes, increments = dict(changes), dict(increments or {})
        check_apply(changes, increments)
        update: dict[str, Any] = {
            "$inc": {**increments, "_v": 1},
            "$push": {"_applied": {"$each": [event_id], "$slice": -KEEP_APPLIED}},
        }
        if changes:
            update["$set"] = changes
        if fresh := initial(on_create, changes, increments):
            update["$setOnInsert"] = fresh
        unapplied = {"_id": key, "_applied": {"$ne": event_id}}
        try:
            await coll.update_one(unapplied, update, upsert=True)
            return True
        except DuplicateKeyError:
            # The document exists and did not match: either it has this event already, or a
            # concurrent apply created it after our filter ran. A plain update tells which.
            return (await coll.update_one(unapplied, update)).matched_count == 1

    async def find(self, collection: str, query: Query = Query()) -> Page:
        coll = self._db[check_collection(collection)]
        check_limit(query.limit)
        clauses: list[dict[str, Any]] = []
        for name, value in query.where.items():
            if value is not None and not isinstance(value, (str, int, float, bool)):
                raise TypeError(f"filter values must be str, int, float, bool or None, "
                                f"not {type(value).__name__}")
            clauses.append({check_field(name): value})
        field, desc = check_field(query.order.field), query.order.descending
        if query.cursor is not None:
            clauses.append(_after(field, *decode_cursor(query.cursor), desc))
        direction = DESCENDING if desc else ASCENDING
        sort = [(field, direction)] + ([("_id", direction)] if field != "_id" else [])
        # One document more than asked tells whether there is a next page.
        docs = await coll.find({"$and": clauses} if clauses else {}, HIDDEN).sort(sort) \
            .limit(query.limit + 1).to_list()
        items = docs[: query.limit]
        cursor = None
        if len(docs) > query.limit and items:
            cursor = encode_cursor(items[-1].get(field), items[-1]["_id"])
        return Page(items, cursor)

    async def delete(self, collection: str, key: str) -> bool:
        result = await self._db[check_collection(collection)].delete_one({"_id": key})
        return result.deleted_count == 1

    async def hit(self, collection: str, key: str, *, cost: int = 1, expires_at: float) -> int:
        counter = {"_id": {"c": check_collection(collection), "k": key}}
        now = datetime.now(timezone.utc)
        # A pipeline, so the expiry check and the addition are one atomic write. On insert
        # "$expires" is missing, which compares lower than any date: the counter starts at 0.
        update = [{"$set": {
            "n": {"$add": [{"$cond": [{"$lte": ["$expires", now]}, 0, "$n"]}, cost]},
            "expires": datetime.fromtimestamp(expires_at, timezone.utc),
        }}]
        # Two first hits racing to insert: the filter is an equality on _id alone, so the server
        # retries the loser's upsert as an update instead of failing it with a duplicate key.
        doc = await self._db[HITS].find_one_and_update(counter, update, {"n": 1}, upsert=True,
                                                       return_document=ReturnDocument.AFTER)
        return int(doc["n"])

    async def outbox_pending(self, limit: int = 100) -> list[OutboxRecord]:
        docs = await self._db[OUTBOX].find({"sent": False}).sort("_id", ASCENDING).limit(limit).to_list()
        return [OutboxRecord(d["topic"], d["key"], d["headers"], bytes(d["body"]), d["_id"]) for d in docs]

    async def outbox_park(self, seq: int, reason: str) -> None:
        async def move(session: AsyncClientSession) -> None:
            doc = await self._db[OUTBOX].find_one_and_delete({"_id": int(seq), "sent": False}, session=session)
            if doc is not None:
                doc.pop("sent", None)
                await self._db[PARKED].replace_one(
                    {"_id": doc["_id"]}, {**doc, "reason": reason[:2000],
                                          "parked_at": datetime.now(timezone.utc).isoformat()},
                    upsert=True, session=session)
        async with self._client.start_session() as session:  # type: ignore[union-attr]
            await session.with_transaction(move)

    async def outbox_parked(self, limit: int = 100) -> list[ParkedRecord]:
        docs = await self._db[PARKED].find({}).sort("_id", ASCENDING).limit(limit).to_list()
        return [ParkedRecord(OutboxRecord(d["topic"], d["key"], d["headers"], bytes(d["body"]), d["_id"]),
                             d["reason"], d["parked_at"]) for d in docs]

    async def outbox_pending_count(self) -> int:
        return await self._db[OUTBOX].count_documents({"sent": False})

    async def outbox_parked_count(self) -> int:
        return await self._db[PARKED].count_documents({})

    async def outbox_replay(self, seqs: Sequence[int]) -> int:
        async def move(session: AsyncClientSession) -> int:
            docs = await self._db[PARKED].find({"_id": {"$in": [int(s) for s in seqs]}}, session=session) \
                .sort("_id", ASCENDING).to_list()
            if docs:
                await self._append([OutboxRecord(d["topic"], d["key"], d["headers"], bytes(d["body"]))
                                    for d in docs], session)
                await self._db[PARKED].delete_many({"_id": {"$in": [d["_id"] for d in docs]}}, session=session)
            return len(docs)
        async with self._client.start_session() as session:  # type: ignore[union-attr]
            return await session.with_transaction(move)

    async def outbox_mark_sent(self, seqs: Sequence[int]) -> None:
        if seqs:
            await self._db[OUTBOX].update_many({"_id": {"$in": [int(s) for s in seqs]}},
                                               {"$set": {"sent": True}})
