"""Webhooks: the caller's signing secret, and each run's delivery attempts."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from services.gateway import services, webhooks
from services.gateway.auth import optional_user, required_user
from services.gateway.bootstrap import GatewayService, gateway
from services.gateway.routes.runs import TokenQuery

router = APIRouter()


@router.get("/v1/webhooks/default/secret")
async def secret(user: str = Depends(required_user), gw: GatewayService = Depends(gateway)) -> dict:
    """The `whsec_` secret your runs' webhooks are signed with (Standard Webhooks: `webhook-signature`
    is `v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`)."""
    return {"key": (await webhooks.secret_of(gw.ctx, user))["current"]}


@router.post("/v1/webhooks/default/secret/rotate")
async def rotate(user: str = Depends(required_user), gw: GatewayService = Depends(gateway)) -> dict:
    """A new secret; deliveries carry signatures by the old one too, for `webhook_secret_overlap_h`."""
    doc = await webhooks.rotate(gw.ctx, user)
    return {"key": doc["current"], "previous_valid_until": doc["previous_until"]}


@router.get("/v1/runs/{run_id}/webhooks")
async def attempts(run_id: str, token: str | None = TokenQuery, user: str | None = Depends(optional_user),
                   gw: GatewayService = Depends(gateway)) -> dict:
    """Every attempt to deliver the run's webhook events, oldest first: event, webhook-id, answer."""
    await services.readable_run(gw, run_id, user, token)
    return {"items": await webhooks.attempts_of(gw.ctx, run_id)}
