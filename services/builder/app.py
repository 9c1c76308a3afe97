"""The builder: published versions become runtimes."""
from __future__ import annotations

from fastapi import FastAPI
from opentelemetry.trace import TracerProvider

from services.builder.bootstrap import bootstrap
from services.kit.runtime import create_service
from services.kit.settings import Settings

DEFAULT_PORT = 8082


def create_app(settings: Settings | None = None, *, tracer_provider: TracerProvider | None = None) -> FastAPI:
    """``tracer_provider``: where spans go (tests give an in-memory one); by default OTEL_* decide."""
    return create_service("builder", settings or Settings(), bootstrap, tracer_provider=tracer_provider)
