"""Feedback through the real gateway and telemetry, in-process on the embedded broker: one per
caller per run, revised by sending again, scored against the run's label output."""
from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from services.contracts.blobs import BlobRef
from services.contracts.events import ImageBuilt, ModelPublished, RunCompleted
from services.kit.bus import Bus
from services.kit.settings import Settings
from senders import send_as_producer

TOKEN = "ft_feedback_owner"
MANIFEST = {"name": "digit", "steps": [{
    "name": "read", "inputs": [{"name": "text", "kind": "text"}],
    "outputs": [{"name": "digit", "kind": "label"}, {"name": "note", "kind": "text"}],
    "input_schema": {"type": "object", "properties": {"text": {"type": "string"}}, "additionalProperties": False}}]}


async def eventually(check, timeout: float = 30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.1)


@pytest.fixture
async def platform(tansu, tmp_path):
    from services.gateway.app import create_app as gateway_app
    from services.telemetry.app import create_app as telemetry_app

    settings = Settings(data_dir=tmp_path, kafka_bootstrap=tansu.bootstrap, kafka_idempotence=False,
                        kafka_session_timeout_ms=3000, admin_user="ann", admin_token=TOKEN,
                        instance_id=uuid.uuid4().hex[:8])
    gateway, telemetry = gateway_app(settings), telemetry_app(settings)
    async with gateway.router.lifespan_context(gateway), telemetry.router.lifespan_context(telemetry):
        for app in (gateway, telemetry):
            await asyncio.wait_for(app.state.service.ctx.bus_ready.wait(), 60)
        model_id = f"ann/digit-{uuid.uuid4().hex[:6]}"
        bus = Bus(settings, "test-builder")
        await bus.start()
        ref = BlobRef(key="bundles/none", size=1, sha256="0" * 64)
        await send_as_producer(bus, ModelPublished(model_id=model_id, owner="ann", model_name=model_id.split("/")[1],
                                         version=1, manifest=MANIFEST, bundle=ref))
        await send_as_producer(bus, ImageBuilt(model_id=model_id, version=1, build_id=f"{model_id}@1", runtime={}))
        # the gateway for the API; telemetry's answers reach it through its own HTTP client
        gateway.state.service.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=telemetry),
                                                       base_url=settings.telemetry_url)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://gw") as http:
            assert await eventually(lambda: _ready(http, model_id))
            try:
                yield http, bus, model_id, gateway.state.service.ctx.store
            finally:
                await bus.stop()


async def _ready(http: httpx.AsyncClient, model_id: str) -> bool:
    return (await http.get(f"/v1/models/{model_id}")).json().get("status") == "ready"


async def finished_run(http: httpx.AsyncClient, bus: Bus, model_id: str) -> dict:
    """A run made anonymously, which the test then completes as the executor would."""
    run = (await http.post(f"/v1/models/{model_id}/runs", json={"inputs": {"text": "a seven"}})).json()
    await send_as_producer(bus, RunCompleted(run_id=run["id"], model_id=model_id, version=1, step="read", status="succeeded",
                                   outputs={"digit": {"label": "7", "confidences": []}, "note": "sure"},
                                   requested_at=run["created_at"]))

    async def done():
        now = (await http.get(run["urls"]["get"])).json()
        return now if now["status"] == "succeeded" else None
    return await eventually(done)


async def test_feedback_is_one_per_caller_per_run_and_scored_against_the_label_output(platform):
    http, bus, model_id, _ = platform
    run = await finished_run(http, bus, model_id)
    token = {"token": run["urls"]["get"].split("token=")[1]}
    first = await http.post(f"/v1/runs/{run['id']}/feedback", params=token, json={"rating": "up", "label": "7"})
    assert first.status_code == 200, first.text
    assert first.json() | {"given_at": None} == {"run_id": run["id"], "rating": "up", "label": "7", "comment": "",
                                                 "predicted": "7", "revision": 1, "given_at": None}
    revised = await http.post(f"/v1/runs/{run['id']}/feedback", params=token,
                              json={"rating": 2, "label": "1", "comment": "it is a one"})
    assert revised.json()["revision"] == 2
    owner = {"Authorization": f"Bearer {TOKEN}"}
    mine = await http.post(f"/v1/runs/{run['id']}/feedback", headers=owner, json={"rating": "down"})
    assert mine.json()["revision"] == 1  # the owner's own, beside the caller's

    async def summed():
        answer = (await http.get(f"/v1/models/{model_id}/feedback", headers=owner)).json()
        return answer if answer.get("feedback") == 2 and answer.get("labelled") == 1 else None
    summary = await eventually(summed)
    assert summary is not None, "telemetry never counted the feedback"
    assert summary["correct"] == 0 and summary["accuracy"] == 0.0  # the revised label is the one kept
    assert summary["down"] == 1 and summary["up"] == 0 and summary["stars"] == {"n": 1, "mean": 2.0}
    assert summary["versions"]["1"]["labelled"] == 1 and sum(b["feedback"] for b in summary["series"]) == 2
    assert (await http.get(f"/v1/models/{model_id}/feedback")).status_code == 401


async def test_feedback_that_cannot_be_taken_is_refused(platform):
    http, bus, model_id, _ = platform
    run = await finished_run(http, bus, model_id)
    token = {"token": run["urls"]["get"].split("token=")[1]}
    assert (await http.post(f"/v1/runs/{run['id']}/feedback", json={"rating": "up"})).status_code == 404  # no token
    empty = await http.post(f"/v1/runs/{run['id']}/feedback", params=token, json={})
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body"]
    for wrong in ({"rating": 6}, {"rating": "meh"}, {"comment": "x" * 2001}):
        answer = await http.post(f"/v1/runs/{run['id']}/feedback", params=token, json=wrong)
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"][:2] == ["body", next(iter(wrong))]
    going = (await http.post(f"/v1/models/{model_id}/runs", json={"inputs": {"text": "x"}})).json()
    early = await http.post(f"/v1/runs/{going['id']}/feedback", params={"token": going["urls"]["get"].split("token=")[1]},
                            json={"rating": "up"})
    assert early.status_code == 409


async def test_metrics_are_the_owners_until_made_public(platform):
    http, bus, model_id, store = platform
    await finished_run(http, bus, model_id)
    owner = {"Authorization": f"Bearer {TOKEN}"}
    assert (await http.get(f"/v1/models/{model_id}/metrics")).status_code == 401
    assert (await http.get(f"/v1/models/{model_id}/metrics", headers=owner)).status_code == 200
    # what the ModelUpdated of a PATCH {"public_metrics": true} does to the gateway's view
    await store.apply("models", model_id, {"public_metrics": True}, event_id="made-public")
    shown = await http.get(f"/v1/models/{model_id}/metrics")
    assert shown.status_code == 200 and "runs" in shown.json()
    assert (await http.get(f"/v1/models/{model_id}")).json()["public_metrics"] is True
    assert (await http.get(f"/v1/models/{model_id}/feedback")).status_code == 401  # feedback stays the owner's
