"""The executor: runs steps of ready versions and reports how each run ended."""
from __future__ import annotations

from fastapi import FastAPI

from services.executor.handlers import subscribe
from services.kit.runtime import ServiceContext, create_service
from services.kit.settings import Settings

DEFAULT_PORT = 8083


async def _resume(ctx: ServiceContext) -> None:
    await ctx.state["executor"].resume()


async def _close(ctx: ServiceContext) -> None:
    await ctx.state["executor"].close()


def _health(ctx: ServiceContext) -> dict:
    return {"sandbox": ctx.state["sandbox"].health()}


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service("executor", settings or Settings(), subscribe=subscribe,
                          on_start=_resume, on_stop=_close, health=_health)
