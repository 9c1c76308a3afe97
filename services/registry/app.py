"""The registry: users' models and versions."""
from __future__ import annotations

from fastapi import FastAPI
from opentelemetry.trace import TracerProvider

from services.kit.runtime import create_service
from services.kit.settings import Settings, upload_limit
from services.registry.api import CALLERS, router
from services.registry.bootstrap import bootstrap

DEFAULT_PORT = 8081


def create_app(settings: Settings | None = None, *, tracer_provider: TracerProvider | None = None) -> FastAPI:
    """``tracer_provider``: where spans go (tests give an in-memory one); by default OTEL_* decide."""
    settings = settings or Settings()
    return create_service("registry", settings, bootstrap, router=router,
                          large_bodies={"/internal/models": upload_limit(settings.max_bundle_mb)},
                          tracer_provider=tracer_provider, callers=CALLERS)
