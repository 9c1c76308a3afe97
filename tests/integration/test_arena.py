"""The arena through the real gateway and telemetry, in-process on the embedded broker: two of a
task's models answer the same inputs unnamed, the vote reveals them, votes rank the task."""
from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from test_feedback import MANIFEST, eventually

from services.contracts.blobs import BlobRef
from services.contracts.events import ImageBuilt, ModelPublished, RunCompleted
from services.kit.bus import Bus
from services.kit.settings import Settings
from senders import send_as_producer

TOKEN = "ft_arena_owner"
OWNER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def arena(tansu, tmp_path):
    from services.gateway.app import create_app as gateway_app
    from services.telemetry.app import create_app as telemetry_app

    settings = Settings(data_dir=tmp_path, kafka_bootstrap=tansu.bootstrap, kafka_idempotence=False,
                        kafka_session_timeout_ms=3000, admin_user="ann", admin_token=TOKEN,
                        instance_id=uuid.uuid4().hex[:8], arena_votes_per_day=2)
    gateway, telemetry = gateway_app(settings), telemetry_app(settings)
    task = f"digits-{uuid.uuid4().hex[:6]}"
    async with gateway.router.lifespan_context(gateway), telemetry.router.lifespan_context(telemetry):
        for app in (gateway, telemetry):
            await asyncio.wait_for(app.state.service.ctx.bus_ready.wait(), 60)
        bus = Bus(settings, "test-builder")
        await bus.start()
        models = [f"ann/{task}-{i}" for i in range(3)]
        ref = BlobRef(key="bundles/none", size=1, sha256="0" * 64)
        for model_id in models:
            await send_as_producer(bus, ModelPublished(model_id=model_id, owner="ann", model_name=model_id.split("/")[1],
                                             version=1, manifest={**MANIFEST, "task": task}, bundle=ref))
            await send_as_producer(bus, ImageBuilt(model_id=model_id, version=1, build_id=f"{model_id}@1", runtime={}))
        gateway.state.service.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=telemetry),
                                                       base_url=settings.telemetry_url)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://gw") as http:
            async def listed():
                found = (await http.get("/v1/tasks")).json()["items"]
                return {"task": task, "models": 3} in found
            assert await eventually(listed)
            try:
                yield http, bus, task, gateway.state.service.ctx.store
            finally:
                await bus.stop()


async def fought(http, bus, store, task: str) -> dict:
    battle = (await http.post(f"/v1/tasks/{task}/battles", headers=OWNER)).json()
    assert battle["models"] is None and battle["runs"] == {}
    made = await http.post(f"/v1/battles/{battle['id']}/runs", headers=OWNER, json={"inputs": {"text": "a seven"}})
    assert made.status_code == 200, made.text
    doc = await store.get("battles", battle["id"])
    for side, run_id in doc["runs"].items():  # answered as the executor would
        run = await store.get("runs", run_id)
        await send_as_producer(bus, RunCompleted(run_id=run_id, model_id=doc[side], version=1, step="read", status="succeeded",
                                       outputs={"digit": {"label": side, "confidences": []}},
                                       requested_at=run["created_at"]))

    async def answered():
        now = (await http.get(f"/v1/battles/{battle['id']}", headers=OWNER)).json()
        return now if all(r["status"] == "succeeded" for r in now["runs"].values()) and len(now["runs"]) == 2 else None
    shown = await eventually(answered)
    assert shown is not None and shown["models"] is None
    assert shown["runs"]["a"]["outputs"]["digit"]["label"] == "a" and "model" not in shown["runs"]["a"]
    return {**shown, "doc": doc}


async def test_a_vote_reveals_the_models_and_ranks_the_task(arena):
    http, bus, task, store = arena
    battle = await fought(http, bus, store, task)
    for run_id in battle["doc"]["runs"].values():  # the runs are read through the battle only
        assert (await http.get(f"/v1/runs/{run_id}")).status_code == 404
    voted = await http.post(f"/v1/battles/{battle['id']}/vote", headers=OWNER, json={"winner": "a"})
    assert voted.status_code == 200, voted.text
    assert voted.json()["models"] == {"a": battle["doc"]["a"], "b": battle["doc"]["b"]}
    again = await http.post(f"/v1/battles/{battle['id']}/vote", headers=OWNER, json={"winner": "b"})
    assert again.status_code == 409

    async def ranked():
        board = (await http.get(f"/v1/tasks/{task}/leaderboard")).json()
        return board if board["votes"] == 1 else None
    board = await eventually(ranked)
    assert board is not None, "telemetry never counted the vote"
    rated = {row["model"]: row for row in board["arena"]}
    assert len(rated) == 3 and rated[battle["doc"]["a"]]["rating"] > rated[battle["doc"]["b"]]["rating"]
    assert {row["model"] for row in board["accuracy"]} == set(rated)


async def test_battles_are_their_callers_alone_and_votes_a_day_are_limited(arena):
    http, bus, task, store = arena
    assert (await http.post(f"/v1/tasks/{task}/battles")).status_code == 401
    assert (await http.post("/v1/tasks/no-such-task/battles", headers=OWNER)).status_code == 409
    first = await fought(http, bus, store, task)
    assert (await http.get(f"/v1/battles/{first['id']}")).status_code == 401
    assert (await http.post(f"/v1/battles/{first['id']}/vote", headers=OWNER, json={"winner": "x"})).status_code == 422
    for _ in range(2):
        battle = await fought(http, bus, store, task)
        answer = await http.post(f"/v1/battles/{battle['id']}/vote", headers=OWNER, json={"winner": "tie"})
    assert answer.status_code == 200
    late = await http.post(f"/v1/battles/{first['id']}/vote", headers=OWNER, json={"winner": "b"})
    assert late.status_code == 429 and "2 votes a day" in late.json()["detail"]


async def test_a_battles_files_are_downloaded_through_the_battle_without_naming_the_run(arena, tmp_path):
    http, bus, task, store = arena
    battle = (await http.post(f"/v1/tasks/{task}/battles", headers=OWNER)).json()
    await http.post(f"/v1/battles/{battle['id']}/runs", headers=OWNER, json={"inputs": {"text": "a seven"}})
    doc = await store.get("battles", battle["id"])
    from services.kit.blobs import open_blobs
    blobs = open_blobs(str(tmp_path / "blobs"))  # the gateway's, in the same data folder
    for side, run_id in doc["runs"].items():
        await blobs.put(f"files/{side}{'0' * 27}/drawn.png", f"drawn by {side}".encode(), "image/png")
        run = await store.get("runs", run_id)
        await send_as_producer(bus, RunCompleted(run_id=run_id, model_id=doc[side], version=1, step="read", status="succeeded",
                                       outputs={"digit": {"label": side, "confidences": []},
                                                "picture": {"url": f"feather:files/{side}{'0' * 27}/drawn.png"}},
                                       requested_at=run["created_at"]))

    async def answered():
        now = (await http.get(f"/v1/battles/{battle['id']}", headers=OWNER)).json()
        return now if len(now["runs"]) == 2 and all(r["status"] == "succeeded" for r in now["runs"].values()) else None
    shown = await eventually(answered)
    assert shown is not None
    for side in ("a", "b"):
        href = shown["runs"][side]["outputs"]["picture"]["href"]
        assert href.startswith(f"/v1/battles/{battle['id']}/files/{side}/")
        assert not any(run_id in href for run_id in doc["runs"].values()) and "token" not in href
        got = await http.get(href, headers=OWNER)
        assert got.status_code == 200 and got.content == f"drawn by {side}".encode()
        assert (await http.get(href)).status_code == 401
    other = shown["runs"]["b"]["outputs"]["picture"]["href"].replace("/files/b/", "/files/a/")
    assert (await http.get(other, headers=OWNER)).status_code == 404  # only the side that answered it
    # someone else, signed in by the session cookie (sent over https only)
    async with httpx.AsyncClient(transport=http._transport, base_url="https://gw") as browser:
        signed = await browser.post("/v1/auth/signup", json={"username": "someone", "password": "long enough"})
        assert signed.status_code == 201
        assert (await browser.get(shown["runs"]["a"]["outputs"]["picture"]["href"])).status_code == 404
