"""Tasks, their leaderboards, and the arena that ranks a task's models by votes."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Request, Response

from services.gateway import arena
from services.gateway.auth import required_user
from services.gateway.bootstrap import GatewayService, gateway
from services.gateway.routes.files import file_response
from services.gateway.routes.models import forward
from services.kit.store import Query

router = APIRouter()
TaskName = Path(pattern=r"^[a-z][a-z0-9-]{0,63}$", description="a task, such as digit-classification")


@router.get("/v1/tasks")
async def tasks(gw: GatewayService = Depends(gateway)) -> dict[str, Any]:
    """Every task a public model names, with how many public models name it."""
    counts: dict[str, int] = {}
    cursor = None
    while True:
        page = await gw.ctx.store.find("models", Query(where={"visibility": "public"}, limit=500, cursor=cursor))
        for model in page.items:
            if model.get("task") and not model.get("deleted"):
                counts[model["task"]] = counts.get(model["task"], 0) + 1
        if not (cursor := page.next_cursor):
            break
    return {"items": [{"task": t, "models": n} for t, n in sorted(counts.items())]}


@router.get("/v1/tasks/{task}/leaderboard")
async def leaderboard(request: Request, task: str = TaskName, gw: GatewayService = Depends(gateway)) -> Response:
    """The task's public models ranked by arena votes (Bradley-Terry ratings with 95% intervals,
    FastChat's scale) and by the accuracy of their label output against labelled feedback."""
    models = [m["_id"] for m in await arena.task_models(gw, task)]
    return await forward(gw, request, f"/v1/tasks/{task}/leaderboard", params={"models": models})


@router.post("/v1/tasks/{task}/battles", status_code=201)
async def start_battle(task: str = TaskName, user: str = Depends(required_user),
                       gw: GatewayService = Depends(gateway)) -> dict[str, Any]:
    """Two of the task's public models, picked at random and shown as a and b."""
    return await arena.start_battle(gw, task, user)


@router.post("/v1/battles/{battle_id}/runs")
async def run_battle(battle_id: str, body: arena.BattleRuns, user: str = Depends(required_user),
                     gw: GatewayService = Depends(gateway)) -> dict[str, Any]:
    """Run the same inputs on both; read the answers with GET."""
    return await arena.run_battle(gw, battle_id, user, body)


@router.get("/v1/battles/{battle_id}")
async def read_battle(battle_id: str, user: str = Depends(required_user),
                      gw: GatewayService = Depends(gateway)) -> dict[str, Any]:
    return await arena.read_battle(gw, battle_id, user)


@router.post("/v1/battles/{battle_id}/vote")
async def vote(battle_id: str, body: arena.Vote, user: str = Depends(required_user),
               gw: GatewayService = Depends(gateway)) -> dict[str, Any]:
    """Which answered better: a, b, tie or both_bad. The models' names come back with the answer."""
    return await arena.vote(gw, battle_id, user, body)


@router.get("/v1/battles/{battle_id}/files/{side}/{fid:path}")
async def battle_file(battle_id: str, side: str, fid: str, user: str = Depends(required_user),
                      gw: GatewayService = Depends(gateway)) -> Response:
    """A file one side of the caller's battle answered, without saying which model made it."""
    return await file_response(gw.ctx, await arena.battle_file(gw, battle_id, side, fid, user))
