"""Telemetry: run records and per-model metrics."""
from __future__ import annotations

from fastapi import FastAPI

from services.kit.runtime import create_service
from services.kit.settings import Settings
from services.telemetry.api import router
from services.telemetry.bootstrap import bootstrap

DEFAULT_PORT = 8084


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service("telemetry", settings or Settings(), bootstrap, router=router)
