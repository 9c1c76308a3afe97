"""Telemetry: run records and per-model metrics. Its routes answer the gateway alone, which
decides who may see what before it forwards a call."""
from __future__ import annotations

from fastapi import FastAPI
from opentelemetry.trace import TracerProvider

from services.kit.runtime import create_service
from services.kit.settings import Settings
from services.telemetry.api import router
from services.telemetry.bootstrap import bootstrap

DEFAULT_PORT = 8084


def create_app(settings: Settings | None = None, *, tracer_provider: TracerProvider | None = None) -> FastAPI:
    """``tracer_provider``: where spans go (tests give an in-memory one); by default OTEL_* decide."""
    return create_service("telemetry", settings or Settings(), bootstrap, router=router,
                          tracer_provider=tracer_provider, callers=frozenset({"gateway"}))
