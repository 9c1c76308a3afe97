"""The rules of Idempotency-Key on the store: one claim, the same answer again, a refusal for
another body or while the first is being accepted, and keys that are forgotten."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.gateway import idempotency
from services.gateway.domain import RequestError
from services.kit.store import SqliteStore

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
async def store(tmp_path):
    store = SqliteStore(str(tmp_path / "g.db"))
    await store.start()
    yield store
    await store.close()


async def test_the_first_request_claims_the_key_and_a_retry_gets_its_answer(store):
    body = idempotency.fingerprint({"inputs": {"a": 1}})
    assert await idempotency.claim(store, "ana", "k1", body, NOW) is None
    with pytest.raises(RequestError) as busy:  # still being accepted
        await idempotency.claim(store, "ana", "k1", body, NOW + timedelta(seconds=1))
    assert busy.value.status == 409
    await idempotency.complete(store, "ana", "k1", {"run_id": "r1"})
    assert await idempotency.claim(store, "ana", "k1", body, NOW + timedelta(hours=23)) == {"run_id": "r1"}
    with pytest.raises(RequestError) as other:
        await idempotency.claim(store, "ana", "k1", idempotency.fingerprint({"inputs": {"a": 2}}), NOW)
    assert other.value.status == 422 and other.value.detail[0]["loc"] == ["header", "Idempotency-Key"]
    assert await idempotency.claim(store, "bob", "k1", body, NOW) is None  # a key is its caller's


async def test_a_key_is_free_again_after_a_day_or_once_its_claim_was_abandoned(store):
    body = idempotency.fingerprint(b"bundle")
    assert await idempotency.claim(store, "ana", "k", body, NOW) is None
    await idempotency.complete(store, "ana", "k", {"status": 201})
    assert await idempotency.claim(store, "ana", "k", body, NOW + timedelta(hours=25)) is None
    # that claim is left pending, as by a gateway that stopped while accepting
    assert await idempotency.claim(store, "ana", "k", body, NOW + timedelta(hours=25, minutes=3)) is None
    await idempotency.release(store, "ana", "k")
    assert await idempotency.claim(store, "ana", "k", idempotency.fingerprint(b"other"), NOW) is None


async def test_old_keys_are_swept_and_malformed_ones_refused(store):
    for i, at in enumerate((NOW - timedelta(hours=30), NOW - timedelta(hours=1))):
        await idempotency.claim(store, "ana", f"k{i}", "f", at)
    assert await idempotency.sweep(store, NOW) == 1
    assert await store.get("idempotency", idempotency.record_key("ana", "k1")) is not None
    for bad in ("", "x" * 256, "naïve", "a b"):
        with pytest.raises(RequestError) as refused:
            await idempotency.claim(store, "ana", bad, "f", NOW)
        assert refused.value.status == 400
