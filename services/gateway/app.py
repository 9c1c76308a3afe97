"""The gateway: public API, identity, input validation, and the wait for run results."""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry.trace import TracerProvider

from services.gateway.auth import cookie_secure
from services.gateway.bootstrap import bootstrap
from services.gateway.domain import RequestError
from services.gateway.routes import router
from services.gateway.throttle import Throttle
from services.kit.portal import mount_portal
from services.kit.runtime import create_service
from services.kit.settings import Settings, upload_limit

DEFAULT_PORT = 8080


def create_app(settings: Settings | None = None, *, tracer_provider: TracerProvider | None = None) -> FastAPI:
    """``tracer_provider``: where spans go (tests give an in-memory one); by default OTEL_* decide."""
    settings = settings or Settings()
    app = create_service("gateway", settings, bootstrap, router=router, metrics_route=False,
                         large_bodies={"/v1/files": upload_limit(settings.max_file_mb),
                                       "/v1/models": upload_limit(settings.max_bundle_mb)},
                         tracer_provider=tracer_provider)

    app.add_middleware(Throttle)  # outermost: a refused caller costs no body read
    # last: it answers every path the API does not
    mount_portal(app, secure=lambda request: cookie_secure(request, settings.cookie_secure))

    @app.exception_handler(RequestError)
    async def refused(_: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    return app
