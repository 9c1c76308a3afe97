"""The arena's use cases: two of a task's public models answer the same inputs, shown without
their names; the caller says which did better, and only then learns which was which.

The battle's runs belong to no caller (``created_by`` None, no read token given out), so their
model cannot be looked up through the runs API; they are read through the battle.
"""
from __future__ import annotations

import random
import uuid
from datetime import datetime, timezone
from functools import partial
from typing import Any, Literal
from urllib.parse import quote

from fastapi import HTTPException
from pydantic import BaseModel, Field

from services.contracts.envelope import stable_id
from services.contracts.events import TERMINAL_STATUSES, VoteCast
from services.gateway.access import run_file_ids, with_hrefs
from services.gateway.bootstrap import GatewayService
from services.gateway.ratelimit import Policy
from services.gateway.services import RunBody, accept_run, prepare_run
from services.gateway.views import run_view
from services.kit.store import Order, Query

DAY = 86_400
SIDES = ("a", "b")


class BattleRuns(BaseModel):
    inputs: dict[str, Any] = Field(default_factory=dict)


class Vote(BaseModel):
    winner: Literal["a", "b", "tie", "both_bad"]


async def task_models(gw: GatewayService, task: str) -> list[dict[str, Any]]:
    """The public, live models of ``task`` that have a ready version."""
    found, cursor = [], None
    while True:
        page = await gw.ctx.store.find("models", Query(where={"task": task, "visibility": "public"}, limit=500,
                                                       cursor=cursor))
        found += [m for m in page.items if not m.get("deleted")]
        if not (cursor := page.next_cursor):
            break
    ready = []
    for model in found:
        versions = await gw.ctx.store.find("versions", Query(where={"model_id": model["_id"], "status": "ready"}, limit=1))
        if versions.items:
            ready.append(model)
    return ready


async def start_battle(gw: GatewayService, task: str, user: str) -> dict[str, Any]:
    models = await task_models(gw, task)
    if len(models) < 2:
        raise HTTPException(409, detail=f"task {task} has {len(models)} public model(s) ready; a battle needs two")
    a, b = random.sample(models, 2)
    battle_id = uuid.uuid4().hex
    doc = {"task": task, "by": user, "a": a["_id"], "b": b["_id"], "runs": {}, "winner": None,
           "created_at": datetime.now(timezone.utc).isoformat()}
    ready = await gw.ctx.store.find("versions", Query(where={"model_id": a["_id"], "status": "ready"},
                                                      order=Order("version", descending=True), limit=1))
    steps = ((ready.items[0] if ready.items else {}).get("manifest") or {}).get("steps") or []
    # what the form shows: the first model's first step, without a word of whose it is
    doc["form"] = {"steps": [{k: v for k, v in steps[0].items() if k != "description"}]} if steps else None
    await gw.ctx.store.save("battles", battle_id, doc, expected_version=None)
    return battle_view(battle_id, doc, {})


async def _mine(gw: GatewayService, battle_id: str, user: str) -> dict[str, Any]:
    doc = await gw.ctx.store.get("battles", battle_id)
    if doc is None or doc["by"] != user:
        raise HTTPException(404, detail=f"no battle {battle_id}")
    return doc


async def run_battle(gw: GatewayService, battle_id: str, user: str, body: BattleRuns) -> dict[str, Any]:
    """The same inputs on both models, once per battle."""
    doc = await _mine(gw, battle_id, user)
    if doc["runs"]:
        raise HTTPException(409, detail="this battle's runs were made; start another battle")
    runs = {}
    for side in SIDES:
        model = await gw.ctx.store.get("models", doc[side])
        if model is None or model.get("deleted"):
            raise HTTPException(409, detail="a model of this battle is gone; start another battle")
        event = await prepare_run(gw, model, RunBody(inputs=body.inputs), user)  # the caller's files may be used
        runs[side] = (await accept_run(gw.ctx, event, None, f"user:{user}"))["_id"]
    await gw.ctx.store.save("battles", battle_id, {**doc, "runs": runs}, expected_version=doc["_v"])
    return await read_battle(gw, battle_id, user)


async def read_battle(gw: GatewayService, battle_id: str, user: str) -> dict[str, Any]:
    doc = await _mine(gw, battle_id, user)
    runs = {side: await gw.ctx.store.get("runs", run_id) for side, run_id in doc["runs"].items()}
    return battle_view(battle_id, doc, runs)


def battle_view(battle_id: str, doc: dict[str, Any], runs: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    sides = {}
    for side, run in runs.items():
        if run is not None:
            shown = run_view(run)
            sides[side] = {k: shown[k] for k in ("status", "error", "metrics")}
            # the files are downloaded through the battle: a link through the run would name it
            sides[side]["outputs"] = with_hrefs(run.get("outputs"), partial(battle_file_href, battle_id, side))
    voted = doc.get("winner") is not None
    return {"id": battle_id, "task": doc["task"], "form": doc.get("form"), "runs": sides, "winner": doc.get("winner"),
            "models": {"a": doc["a"], "b": doc["b"]} if voted else None}


def battle_file_href(battle_id: str, side: str, fid: str) -> str:
    return f"/v1/battles/{quote(battle_id, safe='')}/files/{side}/{quote(fid, safe='/')}"


async def battle_file(gw: GatewayService, battle_id: str, side: str, fid: str, user: str) -> str:
    """``fid`` when it is among the outputs of the caller's battle's run on ``side``."""
    doc = await _mine(gw, battle_id, user)
    run = await gw.ctx.store.get("runs", doc["runs"].get(side, "")) if side in SIDES else None
    if run is None or fid not in run_file_ids({"outputs": run.get("outputs")}):
        raise HTTPException(404, detail="no such file")
    return fid


async def vote(gw: GatewayService, battle_id: str, user: str, body: Vote) -> dict[str, Any]:
    doc = await _mine(gw, battle_id, user)
    if doc.get("winner") is not None:
        raise HTTPException(409, detail="this battle has its vote")
    runs = [await gw.ctx.store.get("runs", run_id) for run_id in doc["runs"].values()]
    if len(runs) < 2 or any(r is None or r["status"] not in TERMINAL_STATUSES for r in runs):
        raise HTTPException(409, detail="vote once both answers are in")
    quota = gw.ctx.settings.arena_votes_per_day
    decision = await gw.limiter.check(Policy("arena-votes", quota, DAY), f"user:{user}")
    if not decision.allowed:
        raise HTTPException(429, detail=f"at most {quota} votes a day", headers={"Retry-After": str(decision.reset_s)})
    event = VoteCast(battle_id=battle_id, task=doc["task"], model_a=doc["a"], model_b=doc["b"], winner=body.winner,
                     voter=user)
    doc = {**doc, "winner": body.winner, "voted_at": event.cast_at.isoformat()}
    await gw.ctx.save("battles", battle_id, doc, expected_version=doc["_v"],
                      events=[gw.ctx.outbox(event, event_id=stable_id(battle_id, "vote"))])
    return battle_view(battle_id, doc, {})
