"""The registry: users' models and versions."""
from __future__ import annotations

from fastapi import FastAPI

from services.kit.runtime import create_service
from services.kit.settings import Settings
from services.registry.api import router
from services.registry.handlers import subscribe

DEFAULT_PORT = 8081


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service("registry", settings or Settings(), router=router, subscribe=subscribe)
