"""A waiting request is woken by its run's completion from either of the gateway's consumers."""
from __future__ import annotations

from datetime import datetime, timezone

from services.contracts.envelope import Envelope
from services.contracts.events import RunCompleted, RunProgress
from services.gateway.projections import Projections
from services.gateway.replies import Replies
from services.kit.store.sqlite import SqliteStore


def _envelope(event, event_id: str) -> Envelope:
    return Envelope(id=event_id, type=f"feather.{event.name}.v1", source="test",
                    time=datetime.now(timezone.utc), event=event)


async def test_the_shared_projection_wakes_a_request_its_reply_consumer_missed():
    store = SqliteStore(":memory:")
    await store.start()
    try:
        replies = Replies(Projections(store))
        waiter = replies.expect("r1")
        await replies.on_projected_run(_envelope(RunProgress(run_id="r1", message="half"), "e0"))
        assert not waiter.done()  # progress is not an answer
        done = RunCompleted(run_id="r1", model_id="local/hello", version=1, step="main", status="succeeded",
                            outputs={"greeting": "hi"}, requested_at=datetime.now(timezone.utc))
        await replies.on_projected_run(_envelope(done, "e1"))
        assert waiter.done() and waiter.result().outputs == {"greeting": "hi"}
        assert (await store.get("runs", "r1"))["status"] == "succeeded"  # recorded before the answer
    finally:
        await store.close()
