"""The builder: published versions become runtimes."""
from __future__ import annotations

from fastapi import FastAPI

from services.builder.bootstrap import bootstrap
from services.kit.runtime import create_service
from services.kit.settings import Settings

DEFAULT_PORT = 8082


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service("builder", settings or Settings(), bootstrap)
