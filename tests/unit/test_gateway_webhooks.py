"""The rules of a run's webhook queue, with no I/O, and signatures both ways between the platform,
the Standard Webhooks reference library and the SDK."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

import feather.webhooks
from services.contracts.events import WebhookAttempted
from services.gateway import webhooks

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
SCHEDULE = [1.0, 5.0]


def queue(events=webhooks.EVENTS, pending=()) -> dict:
    return {"run_id": "r", "events": list(events), "pending": list(pending), "sent": {}, "last_sent_at": {},
            "attempt": 0, "state": "pending" if pending else "idle", "next_at": NOW.isoformat(), "lease_until": None,
            "attempts": []}


def attempted(doc: dict, status: int | None, at: datetime = NOW) -> dict:
    record = WebhookAttempted(run_id="r", webhook_id="msg", event=doc["pending"][0], attempt=doc["attempt"] + 1,
                              status_code=status, duration_ms=1.0, at=at)
    return webhooks._after(doc, record, SCHEDULE, 0.5)


def test_events_queue_in_order_coalesce_and_nothing_follows_completed():
    doc = webhooks._append(queue(pending=["start"]), ["logs"], NOW, 0.5)
    assert webhooks._append(doc, ["logs"], NOW, 0.5) is None  # one waiting logs delivery stands for both
    doc = webhooks._append(doc, ["output", "completed"], NOW, 0.5)
    assert doc["pending"] == ["start", "logs", "output", "completed"]
    assert webhooks._append(doc, ["logs"], NOW, 0.5) is None
    only = webhooks._append(queue(events=["completed"]), ["logs", "output", "completed"], NOW, 0.5)
    assert only["pending"] == ["completed"]


def test_logs_wait_for_the_throttle_and_completed_is_retried_then_dropped():
    doc = attempted(queue(pending=["logs", "completed"]), 204)
    assert doc["pending"] == ["completed"] and doc["sent"] == {"logs": 1}
    again = webhooks._append({**doc, "pending": []}, ["logs"], NOW + timedelta(seconds=0.1), 0.5)
    assert datetime.fromisoformat(again["next_at"]) == NOW + timedelta(seconds=0.5)
    first = attempted(doc, 500)
    assert first["pending"] == ["completed"] and first["attempt"] == 1
    assert datetime.fromisoformat(first["next_at"]) == NOW + timedelta(seconds=1)
    second = attempted(first, None)
    assert datetime.fromisoformat(second["next_at"]) == NOW + timedelta(seconds=5)
    gave_up = attempted(second, 503)
    assert gave_up["pending"] == [] and gave_up["state"] == "idle" and len(gave_up["attempts"]) == 4
    assert not gave_up["sent"].get("completed")


def test_a_failed_progress_delivery_is_not_retried_and_410_stops_everything():
    doc = attempted(queue(pending=["logs", "completed"]), 500)
    assert doc["pending"] == ["completed"]
    gone = attempted(queue(pending=["start", "logs", "completed"]), 410)
    assert gone["pending"] == [] and gone["state"] == "gone"


def test_signatures_agree_with_the_reference_library_and_the_sdk():
    old, new = webhooks.new_secret(), webhooks.new_secret()
    body = json.dumps({"type": "run.completed", "data": {"id": "r"}})
    now = datetime.now(timezone.utc)
    headers = webhooks.signed_headers("msg_1", now, body, [new, old])
    for key in (old, new):
        assert Webhook(key).verify(body, headers)["data"]["id"] == "r"
        assert feather.webhooks.verify(headers, body.encode(), key)["type"] == "run.completed"
    other = webhooks.new_secret()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, headers)
    with pytest.raises(feather.webhooks.WebhookVerificationError):
        feather.webhooks.verify(headers, body, other)
    # and what the reference library signs, the SDK accepts
    theirs = {"webhook-id": "msg_2", "webhook-timestamp": str(int(now.timestamp())),
              "webhook-signature": Webhook(new).sign("msg_2", now, body)}
    assert feather.webhooks.verify(theirs, body, new)["data"] == {"id": "r"}
    stale = {**theirs, "webhook-timestamp": str(int(now.timestamp()) - 400)}
    with pytest.raises(feather.webhooks.WebhookVerificationError, match="five minutes"):
        feather.webhooks.verify(stale, body, new)
    with pytest.raises(feather.webhooks.WebhookVerificationError, match="required"):
        feather.webhooks.verify({}, body, new)


def test_a_rotated_secret_signs_alongside_the_new_one_until_it_expires():
    doc = {"current": "whsec_bmV3", "previous": "whsec_b2xk", "previous_until": (NOW + timedelta(hours=1)).isoformat()}
    assert webhooks.signing_keys(doc, NOW) == ["whsec_bmV3", "whsec_b2xk"]
    assert webhooks.signing_keys(doc, NOW + timedelta(hours=2)) == ["whsec_bmV3"]


def test_a_late_attempt_after_the_queue_moved_on_only_adds_its_record_and_gone_stays_gone():
    doc = queue(pending=["completed"])
    late = WebhookAttempted(run_id="r", webhook_id="msg", event="logs", attempt=1, status_code=204,
                            duration_ms=1.0, at=NOW)
    after = webhooks._after(doc, late, SCHEDULE, 0.5)
    assert after["pending"] == ["completed"] and len(after["attempts"]) == 1
    gone = attempted(queue(pending=["start"]), 410)
    assert webhooks._append(gone, ["completed"], NOW, 0.5) is None


def test_each_message_that_left_the_queue_gets_a_new_id():
    failed = attempted(queue(pending=["logs"]), 500)  # tried once, dropped
    assert failed["left"] == {"logs": 1} and not failed["sent"].get("logs")


async def test_finished_queues_are_forgotten_after_a_week(tmp_path):
    from types import SimpleNamespace

    from services.kit.store import SqliteStore
    store = SqliteStore(str(tmp_path / "g.db"))
    await store.start()
    try:
        for run_id, state, age in (("old", "idle", 8), ("gone", "gone", 9), ("recent", "idle", 1), ("busy", "pending", 30)):
            await store.save("webhooks", run_id, {**queue(), "state": state,
                                                  "next_at": (NOW - timedelta(days=age)).isoformat()},
                             expected_version=None)
        assert await webhooks.sweep(SimpleNamespace(store=store), NOW) == 2
        assert {d["_id"] for d in (await store.find("webhooks")).items} == {"recent", "busy"}
    finally:
        await store.close()
