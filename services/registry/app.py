"""The registry: users' models and versions."""
from __future__ import annotations

from fastapi import FastAPI

from services.kit.runtime import create_service
from services.kit.settings import Settings, upload_limit
from services.registry.api import router
from services.registry.bootstrap import bootstrap

DEFAULT_PORT = 8081


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service("registry", settings, bootstrap, router=router,
                          large_bodies={"/internal/models": upload_limit(settings.max_bundle_mb)})
