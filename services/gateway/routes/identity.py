"""Who is calling."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from services.gateway.auth import required_user

router = APIRouter()


@router.get("/v1/me")
async def me(user: str = Depends(required_user)) -> dict:
    return {"username": user}
