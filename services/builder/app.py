"""The builder: published versions become runtimes."""
from __future__ import annotations

from fastapi import FastAPI

from services.builder.handlers import subscribe
from services.kit.runtime import ServiceContext, create_service
from services.kit.settings import Settings

DEFAULT_PORT = 8082


async def _resume(ctx: ServiceContext) -> None:
    await ctx.state["builder"].resume()


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service("builder", settings or Settings(), subscribe=subscribe, on_start=_resume)
