"""The Store contract: every backend must pass every test here (see conftest.py for backends)."""
from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import pytest

from services.kit.store import KEEP_APPLIED, Conflict, InvalidCursor, Order, OutboxRecord, Query, Store


def event(topic: str, key: str = "k", body: bytes = b"{}") -> OutboxRecord:
    return OutboxRecord(topic=topic, key=key, headers={"ce-type": topic, "ce-id": f"id-{topic}"}, body=body)


async def topics(store: Store) -> list[str]:
    return [r.topic for r in await store.outbox_pending(1000)]


# --- get / save ---------------------------------------------------------------------------

async def test_get_missing_is_none(store: Store) -> None:
    assert await store.get("models", "nope") is None


async def test_insert_returns_version_1_and_get_returns_the_doc(store: Store) -> None:
    doc = {"name": "a", "tags": ["x", "y"], "meta": {"k": 1.5, "ok": True}, "none": None}
    assert await store.save("models", "m1", doc, expected_version=None) == 1
    assert await store.get("models", "m1") == {"_id": "m1", "_v": 1, **doc}


async def test_update_replaces_the_doc_and_bumps_the_version(store: Store) -> None:
    await store.save("models", "m1", {"name": "a", "tags": ["x"]}, expected_version=None)
    assert await store.save("models", "m1", {"name": "b"}, expected_version=1) == 2
    assert await store.get("models", "m1") == {"_id": "m1", "_v": 2, "name": "b"}
    # a doc as returned by get, reserved fields included, can be saved back
    doc = await store.get("models", "m1")
    assert doc is not None
    doc["name"] = "c"
    assert await store.save("models", "m1", doc, expected_version=doc["_v"]) == 3
    assert await store.get("models", "m1") == {"_id": "m1", "_v": 3, "name": "c"}


async def test_stale_version_conflicts_and_changes_nothing(store: Store) -> None:
    await store.save("models", "m1", {"n": 1}, expected_version=None)
    await store.save("models", "m1", {"n": 2}, expected_version=1)
    for stale in (1, 3):
        with pytest.raises(Conflict):
            await store.save("models", "m1", {"n": 99}, expected_version=stale)
    assert await store.get("models", "m1") == {"_id": "m1", "_v": 2, "n": 2}


async def test_double_insert_conflicts(store: Store) -> None:
    await store.save("models", "m1", {"n": 1}, expected_version=None)
    with pytest.raises(Conflict):
        await store.save("models", "m1", {"n": 2}, expected_version=None)
    assert await store.get("models", "m1") == {"_id": "m1", "_v": 1, "n": 1}


async def test_update_of_a_missing_doc_conflicts(store: Store) -> None:
    with pytest.raises(Conflict):
        await store.save("models", "ghost", {"n": 1}, expected_version=1)
    assert await store.get("models", "ghost") is None


async def test_collections_are_separate(store: Store) -> None:
    await store.save("models", "same", {"c": "models"}, expected_version=None)
    await store.save("users", "same", {"c": "users"}, expected_version=None)
    assert (await store.get("models", "same"))["c"] == "models"  # type: ignore[index]
    assert (await store.get("users", "same"))["c"] == "users"  # type: ignore[index]
    assert [d["_id"] for d in (await store.find("users")).items] == ["same"]


# --- outbox -------------------------------------------------------------------------------

async def test_save_appends_its_events_to_the_outbox_in_order(store: Store) -> None:
    await store.save("models", "m1", {"n": 1}, expected_version=None,
                     events=[event("a", "m1", b"\x00\x01"), event("b", "m1")])
    await store.save("models", "m1", {"n": 2}, expected_version=1, events=[event("c", "m1")])
    pending = await store.outbox_pending()
    assert [(r.topic, r.key) for r in pending] == [("a", "m1"), ("b", "m1"), ("c", "m1")]
    assert pending[0].body == b"\x00\x01" and isinstance(pending[0].body, bytes)
    assert dict(pending[0].headers) == {"ce-type": "a", "ce-id": "id-a"}
    seqs = [r.seq for r in pending]
    assert all(isinstance(s, int) for s in seqs) and seqs == sorted(set(seqs))  # type: ignore[type-var]


async def test_the_pending_count_is_what_waits_to_be_published(store: Store) -> None:
    assert await store.outbox_pending_count() == 0
    await store.save("models", "m1", {"n": 1}, expected_version=None, events=[event("a"), event("b"), event("c")])
    assert await store.outbox_pending_count() == 3
    first = (await store.outbox_pending(1))[0]
    await store.outbox_mark_sent([first.seq])  # type: ignore[list-item]
    assert await store.outbox_pending_count() == 2


async def test_a_conflicting_save_writes_no_outbox_rows(store: Store) -> None:
    await store.save("models", "m1", {"n": 1}, expected_version=None, events=[event("created")])
    with pytest.raises(Conflict):
        await store.save("models", "m1", {"n": 2}, expected_version=None, events=[event("dup-insert")])
    with pytest.raises(Conflict):
        await store.save("models", "m1", {"n": 2}, expected_version=7, events=[event("stale")])
    with pytest.raises(Conflict):
        await store.save("models", "ghost", {"n": 2}, expected_version=1, events=[event("ghost")])
    assert await topics(store) == ["created"]
    assert await store.get("models", "m1") == {"_id": "m1", "_v": 1, "n": 1}


async def test_mark_sent_removes_records_and_keeps_the_rest_in_order(store: Store) -> None:
    for i in range(5):
        await store.save("models", f"m{i}", {}, expected_version=None, events=[event(f"t{i}")])
    first_two = await store.outbox_pending(limit=2)
    assert [r.topic for r in first_two] == ["t0", "t1"]
    await store.outbox_mark_sent([r.seq for r in first_two])  # type: ignore[misc]
    await store.outbox_mark_sent([])
    rest = await store.outbox_pending()
    assert [r.topic for r in rest] == ["t2", "t3", "t4"]
    await store.outbox_mark_sent([rest[1].seq])  # type: ignore[list-item]
    assert await topics(store) == ["t2", "t4"]
    await store.outbox_mark_sent([r.seq for r in rest])  # type: ignore[misc]
    assert await store.outbox_pending() == []
    await store.save("models", "late", {}, expected_version=None, events=[event("late")])
    (late,) = await store.outbox_pending()
    assert late.seq > max(r.seq for r in first_two + rest)  # type: ignore[operator, type-var]


# --- apply --------------------------------------------------------------------------------

async def test_apply_creates_from_on_create_then_sets_and_increments(store: Store) -> None:
    assert await store.apply("views", "m1", {"name": "a"}, event_id="e1",
                             on_create={"created": "t0", "name": "from-create", "count": 100},
                             increments={"count": 2, "score": 0.5})
    # fields named in changes or increments take precedence over on_create; increments start at 0
    assert await store.get("views", "m1") == {
        "_id": "m1", "_v": 1, "created": "t0", "name": "a", "count": 2, "score": 0.5}


async def test_apply_is_idempotent_per_event_id(store: Store) -> None:
    assert await store.apply("views", "m1", {"a": 1}, event_id="e1", increments={"n": 1})
    before = await store.get("views", "m1")
    assert await store.apply("views", "m1", {"a": 2}, event_id="e1", increments={"n": 5}) is False
    assert await store.get("views", "m1") == before


async def test_different_event_ids_both_apply(store: Store) -> None:
    assert await store.apply("views", "m1", {"a": 1}, event_id="e1", on_create={"first": "e1"},
                             increments={"n": 1})
    assert await store.apply("views", "m1", {"a": 2}, event_id="e2", on_create={"first": "e2"},
                             increments={"n": 1})
    assert await store.get("views", "m1") == {"_id": "m1", "_v": 2, "first": "e1", "a": 2, "n": 2}


async def test_event_ids_are_tracked_per_document(store: Store) -> None:
    assert await store.apply("views", "m1", {}, event_id="e1", increments={"n": 1})
    assert await store.apply("views", "m2", {}, event_id="e1", increments={"n": 1})
    assert await store.apply("other", "m1", {}, event_id="e1", increments={"n": 1})


async def test_a_document_remembers_its_last_applied_event_ids_and_no_more(store: Store) -> None:
    for i in range(KEEP_APPLIED + 1):
        assert await store.apply("views", "m1", {}, event_id=f"e{i}", increments={"n": 1})
    await store.apply("views", "m2", {}, event_id="e0", increments={"n": 1})  # another document's record
    # the newest KEEP_APPLIED are remembered, the oldest, e0, is forgotten
    assert await store.apply("views", "m1", {}, event_id="e1", increments={"n": 1}) is False
    assert await store.apply("views", "m1", {}, event_id=f"e{KEEP_APPLIED}", increments={"n": 1}) is False
    assert await store.apply("views", "m1", {}, event_id="e0", increments={"n": 1}) is True
    assert (await store.get("views", "m1"))["n"] == KEEP_APPLIED + 2
    assert await store.apply("views", "m2", {}, event_id="e0", increments={"n": 1}) is False


async def test_deleting_a_document_forgets_its_applied_events(store: Store) -> None:
    await store.apply("views", "m1", {}, event_id="e1", increments={"n": 1})
    assert await store.delete("views", "m1")
    assert await store.apply("views", "m1", {}, event_id="e1", increments={"n": 1}) is True


async def test_save_keeps_the_record_of_applied_events(store: Store) -> None:
    await store.apply("views", "m1", {"a": 1}, event_id="e1", increments={"n": 1})
    doc = await store.get("views", "m1")
    assert doc is not None
    assert await store.save("views", "m1", {**doc, "b": True}, expected_version=doc["_v"]) == 2
    assert await store.apply("views", "m1", {"a": 9}, event_id="e1", increments={"n": 1}) is False
    assert await store.get("views", "m1") == {"_id": "m1", "_v": 2, "a": 1, "n": 1, "b": True}


async def test_apply_bumps_the_version_so_stale_saves_conflict(store: Store) -> None:
    await store.save("views", "m1", {"n": 0}, expected_version=None)
    await store.apply("views", "m1", {}, event_id="e1", increments={"n": 1})
    with pytest.raises(Conflict):
        await store.save("views", "m1", {"n": 100}, expected_version=1)
    assert await store.get("views", "m1") == {"_id": "m1", "_v": 2, "n": 1}


@pytest.mark.parametrize("changes,increments", [
    ({"a": 1}, {"a": 1}),       # set and incremented at once
    ({"_v": 5}, {}),            # reserved
    ({}, {"_id": 1}),           # reserved
    ({"a.b": 1}, {}),           # not top-level
])
async def test_apply_refuses_updates_that_are_not_plain(store: Store, changes: dict[str, Any],
                                                         increments: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        await store.apply("views", "m1", changes, event_id="e1", increments=increments)
    assert await store.get("views", "m1") is None


async def test_concurrent_applies_with_distinct_event_ids_all_count(store: Store) -> None:
    results = await asyncio.gather(*(
        store.apply("counters", "c", {f"seen_{i}": True}, event_id=f"e{i}",
                    on_create={"created": True}, increments={"n": 1, "total": i})
        for i in range(20)))
    assert results == [True] * 20
    doc = await store.get("counters", "c")
    assert doc is not None
    assert (doc["n"], doc["total"], doc["_v"], doc["created"]) == (20, sum(range(20)), 20, True)
    assert all(doc[f"seen_{i}"] for i in range(20))


async def test_concurrent_applies_of_one_event_id_apply_once(store: Store) -> None:
    results = await asyncio.gather(*(
        store.apply("counters", "c", {}, event_id="same", increments={"n": 1}) for _ in range(20)))
    assert sorted(results) == [False] * 19 + [True]
    assert (await store.get("counters", "c"))["n"] == 1  # type: ignore[index]


async def test_concurrent_saves_of_one_version_let_exactly_one_win(store: Store) -> None:
    await store.save("models", "m1", {"winner": None}, expected_version=None)

    async def attempt(i: int) -> int | None:
        try:
            return await store.save("models", "m1", {"winner": i}, expected_version=1,
                                    events=[event(f"won-{i}")])
        except Conflict:
            return None

    results = await asyncio.gather(*(attempt(i) for i in range(10)))
    winners = [i for i, r in enumerate(results) if r == 2]
    assert len(winners) == 1 and results.count(None) == 9
    assert await store.get("models", "m1") == {"_id": "m1", "_v": 2, "winner": winners[0]}
    assert await topics(store) == [f"won-{winners[0]}"]


async def test_cancelled_writes_are_all_or_nothing(store: Store) -> None:
    tasks = [asyncio.create_task(store.save("models", f"m{i}", {"i": i}, expected_version=None,
                                            events=[event(f"t{i}", f"m{i}")]))
             for i in range(30)]
    await asyncio.sleep(0)
    for task in tasks[::2]:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    saved = {d["_id"] for d in (await store.find("models", Query(limit=100))).items}
    assert {r.key for r in await store.outbox_pending(1000)} == saved
    assert await store.save("models", "after", {}, expected_version=None) == 1  # still usable


# --- delete -------------------------------------------------------------------------------

async def test_delete(store: Store) -> None:
    await store.save("models", "m1", {"n": 1}, expected_version=None)
    await store.save("models", "m2", {"n": 2}, expected_version=None)
    assert await store.delete("models", "m1") is True
    assert await store.get("models", "m1") is None
    assert await store.delete("models", "m1") is False
    assert [d["_id"] for d in (await store.find("models")).items] == ["m2"]
    assert await store.save("models", "m1", {"n": 3}, expected_version=None) == 1


async def test_a_deleted_document_starts_over(store: Store) -> None:
    await store.apply("views", "m1", {}, event_id="e1", increments={"n": 1})
    assert await store.delete("views", "m1")
    assert await store.apply("views", "m1", {}, event_id="e1", increments={"n": 1})
    assert await store.get("views", "m1") == {"_id": "m1", "_v": 1, "n": 1}


# --- hit ----------------------------------------------------------------------------------

def later(seconds: float = 3600) -> float:
    return time.time() + seconds


async def test_hits_add_up(store: Store) -> None:
    expires = later()
    assert await store.hit("limits", "c", expires_at=expires) == 1
    assert await store.hit("limits", "c", cost=2, expires_at=expires) == 3
    assert await store.hit("limits", "c", cost=5, expires_at=expires) == 8


async def test_concurrent_hits_sum_exactly(store: Store) -> None:
    expires = later()
    totals = await asyncio.gather(*(store.hit("limits", "c", expires_at=expires) for _ in range(50)))
    assert sorted(totals) == list(range(1, 51))  # each hit saw its own total: none was lost
    assert await store.hit("limits", "c", expires_at=expires) == 51


async def test_counters_are_separate_by_key_and_collection(store: Store) -> None:
    expires = later()
    await store.hit("limits", "a", cost=3, expires_at=expires)
    assert await store.hit("limits", "b", expires_at=expires) == 1
    assert await store.hit("other", "a", expires_at=expires) == 1
    assert await store.hit("limits", "a", expires_at=expires) == 4


async def test_counters_live_apart_from_documents(store: Store) -> None:
    await store.save("limits", "c", {"n": 10}, expected_version=None)
    assert await store.hit("limits", "c", expires_at=later()) == 1
    assert await store.hit("limits", "d", expires_at=later()) == 1
    assert await store.get("limits", "c") == {"_id": "c", "_v": 1, "n": 10}
    assert await store.get("limits", "d") is None
    assert [d["_id"] for d in (await store.find("limits")).items] == ["c"]
    assert await store.delete("limits", "d") is False


async def test_an_expired_counter_starts_again_from_zero(store: Store) -> None:
    past = time.time() - 10
    assert await store.hit("limits", "c", cost=4, expires_at=past) == 4
    assert await store.hit("limits", "c", cost=4, expires_at=past) == 4
    # each hit stores its own expiry: the next one counts on from this one
    assert await store.hit("limits", "c", cost=2, expires_at=later()) == 2
    assert await store.hit("limits", "c", cost=2, expires_at=past) == 4
    assert await store.hit("limits", "c", cost=1, expires_at=later()) == 1


async def test_hit_refuses_bookkeeping_collections(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.hit("_outbox", "c", expires_at=later())


# --- find ---------------------------------------------------------------------------------

DOCS: dict[str, dict[str, Any]] = {
    "k00": {"owner": "ann", "public": True, "stars": 3, "score": 1.5, "rank": 2},
    "k01": {"owner": "bob", "public": False, "stars": 1, "score": 0.5, "note": None},
    "k02": {"owner": "ann", "public": False, "stars": 3, "score": 2.0, "rank": None},
    "k03": {"owner": "cid", "public": True, "stars": 5, "score": 1.5, "rank": 1},
    "k04": {"owner": "ann", "public": True, "stars": 1, "score": 3.0},
    "k05": {"owner": "bob", "public": True, "stars": 3, "score": 1.0, "rank": 2, "flag": 1},
    "k06": {"owner": "cid", "public": False, "stars": 5, "score": 0.0, "flag": True},
    "k07": {"owner": "ann", "public": True, "stars": 3, "score": 2.5, "rank": 3},
    "k08": {"owner": "dan", "public": False, "stars": 2, "score": 1.5, "rank": 1},
    "k09": {"owner": "bob", "public": True, "stars": 5, "score": 4.0},
}


@pytest.fixture
async def catalog(store: Store) -> Store:
    # inserted out of key order, so that insertion order cannot pass for sort order
    for key in sorted(DOCS, reverse=True):
        await store.save("catalog", key, DOCS[key], expected_version=None)
    return store


def expected(order: Order, where: dict[str, Any] | None = None) -> list[str]:
    """The contract's order: by the field (null or missing lowest), ties by _id, all reversed for desc."""
    keys = [k for k, d in DOCS.items() if all(d.get(f) == v for f, v in (where or {}).items())]

    def sort_key(key: str) -> tuple[Any, ...]:
        value = key if order.field == "_id" else DOCS[key].get(order.field)
        return (value is not None, value if value is not None else 0, key)

    return sorted(keys, key=sort_key, reverse=order.descending)


async def all_pages(store: Store, query: Query) -> list[list[str]]:
    pages: list[list[str]] = []
    while True:
        page = await store.find("catalog", query)
        pages.append([d["_id"] for d in page.items])
        if page.next_cursor is None:
            return pages
        assert len(pages) < 20, "pagination does not end"
        query = Query(where=query.where, order=query.order, limit=query.limit, cursor=page.next_cursor)


@pytest.mark.parametrize("where,keys", [
    ({"owner": "ann"}, ["k00", "k02", "k04", "k07"]),
    ({"owner": "ann", "public": False}, ["k02"]),
    ({"stars": 5}, ["k03", "k06", "k09"]),
    ({"score": 1.5}, ["k00", "k03", "k08"]),
    ({"flag": True}, ["k06"]),             # true is not 1
    ({"flag": 1}, ["k05"]),                # and 1 is not true
    ({"note": None}, ["k00", "k02", "k03", "k04", "k05", "k06", "k07", "k08", "k09", "k01"]),
    ({"rank": None}, ["k01", "k02", "k04", "k06", "k09"]),  # null and missing alike
    ({"_id": "k03"}, ["k03"]),
    ({"owner": "zed"}, []),
])
async def test_find_filters_on_equality(catalog: Store, where: dict[str, Any], keys: list[str]) -> None:
    page = await catalog.find("catalog", Query(where=where, limit=100))
    assert sorted(d["_id"] for d in page.items) == sorted(keys)
    assert page.next_cursor is None


async def test_find_returns_whole_documents(catalog: Store) -> None:
    page = await catalog.find("catalog", Query(where={"_id": "k05"}))
    assert page.items == [{"_id": "k05", "_v": 1, **DOCS["k05"]}]


@pytest.mark.parametrize("order", [
    Order("stars"), Order("stars", descending=True), Order("score"), Order("score", descending=True),
    Order("owner"), Order("_id"), Order("_id", descending=True),
    Order("rank"), Order("rank", descending=True),  # null and missing among the values
], ids=lambda o: f"{o.field}-{'desc' if o.descending else 'asc'}")
async def test_find_sorts_with_ties_broken_by_id(catalog: Store, order: Order) -> None:
    page = await catalog.find("catalog", Query(order=order, limit=100))
    assert [d["_id"] for d in page.items] == expected(order)
    assert page.next_cursor is None


@pytest.mark.parametrize("order", [
    Order("stars"), Order("stars", descending=True), Order("_id"), Order("_id", descending=True),
    Order("rank"), Order("rank", descending=True), Order("owner", descending=True),
], ids=lambda o: f"{o.field}-{'desc' if o.descending else 'asc'}")
async def test_pagination_yields_every_doc_once_across_three_pages(catalog: Store, order: Order) -> None:
    pages = await all_pages(catalog, Query(order=order, limit=4))
    assert [len(p) for p in pages] == [4, 4, 2]
    assert [k for p in pages for k in p] == expected(order)


async def test_pagination_ends_without_an_empty_page(catalog: Store) -> None:
    pages = await all_pages(catalog, Query(order=Order("stars"), limit=5))
    assert [len(p) for p in pages] == [5, 5]


async def test_pagination_with_a_filter(catalog: Store) -> None:
    order = Order("score", descending=True)
    pages = await all_pages(catalog, Query(where={"public": True}, order=order, limit=2))
    assert [len(p) for p in pages] == [2, 2, 2]
    assert [k for p in pages for k in p] == expected(order, {"public": True})


async def test_a_cursor_stays_valid_when_documents_are_added_before_it(catalog: Store) -> None:
    first = await catalog.find("catalog", Query(order=Order("_id"), limit=3))
    await catalog.save("catalog", "a-first", {"stars": 0}, expected_version=None)
    second = await catalog.find("catalog", Query(order=Order("_id"), limit=3, cursor=first.next_cursor))
    assert [d["_id"] for d in second.items] == ["k03", "k04", "k05"]


async def test_find_on_an_empty_collection(store: Store) -> None:
    page = await store.find("nothing", Query(order=Order("x", descending=True)))
    assert page.items == [] and page.next_cursor is None


async def test_find_hides_bookkeeping(store: Store) -> None:
    await store.apply("views", "m1", {"a": 1}, event_id="e1")
    assert (await store.find("views")).items == [{"_id": "m1", "_v": 1, "a": 1}]


# --- parking ------------------------------------------------------------------------------

async def test_a_parked_record_leaves_the_queue_and_is_kept_with_its_reason(store: Store) -> None:
    await store.save("models", "m1", {"n": 1}, expected_version=None, events=[event("a"), event("b"), event("c")])
    first, second, _ = await store.outbox_pending(10)
    await store.outbox_park(second.seq, "too large for the broker")
    assert await topics(store) == ["a", "c"]
    parked = await store.outbox_parked()
    assert [(p.record.topic, p.record.seq, p.reason) for p in parked] == [("b", second.seq, "too large for the broker")]
    assert parked[0].record.body == second.body and dict(parked[0].record.headers) == dict(second.headers)
    assert parked[0].parked_at
    await store.outbox_park(first.seq, "again")
    await store.outbox_park(first.seq, "twice")  # parking what is already parked changes nothing
    assert [p.record.topic for p in await store.outbox_parked()] == ["a", "b"]
    assert await store.outbox_parked_count() == 2


async def test_a_sent_record_cannot_be_parked(store: Store) -> None:
    await store.save("models", "m1", {"n": 1}, expected_version=None, events=[event("a")])
    (rec,) = await store.outbox_pending(10)
    await store.outbox_mark_sent([rec.seq])
    await store.outbox_park(rec.seq, "late")
    assert await store.outbox_parked() == []


async def test_replay_puts_parked_records_back_at_the_end_of_the_queue(store: Store) -> None:
    await store.save("models", "m1", {"n": 1}, expected_version=None, events=[event("a"), event("b")])
    first, second = await store.outbox_pending(10)
    await store.outbox_park(first.seq, "broker refused it")
    await store.save("models", "m2", {"n": 1}, expected_version=None, events=[event("c")])
    assert await store.outbox_replay([first.seq, 10**9]) == 1  # an unknown seq is ignored
    pending = await store.outbox_pending(10)
    assert [r.topic for r in pending] == ["b", "c", "a"]
    assert pending[-1].seq > max(r.seq for r in pending[:-1]) and pending[-1].body == first.body
    assert await store.outbox_parked() == [] and await store.outbox_parked_count() == 0
    assert await store.outbox_replay([first.seq]) == 0


@pytest.mark.parametrize("value", [{"a": 1}, [1], "not base64!", None])
async def test_a_cursor_no_find_gave_out_is_refused_as_such(store: Store, value) -> None:
    await store.save("models", "m1", {"n": 1}, expected_version=None)
    cursor = value if isinstance(value, str) else \
        base64.urlsafe_b64encode(json.dumps([value, 5] if value is not None else [1, {"k": 2}]).encode()).decode()
    with pytest.raises(InvalidCursor):
        await store.find("models", Query(order=Order("n"), cursor=cursor))
