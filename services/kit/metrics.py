"""Prometheus metrics of one service, on a registry of its own (several services may share a
process in tests), served as text at /metrics.

What every service has: HTTP requests and their durations by route and status, its outbox
(published, pending, parked), dead-lettered messages, and its consumer groups' lag. Services add
their own (runs, workers, builds) on the same registry.
"""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DURATIONS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)


class ServiceMetrics:
    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("feather_http_requests", "HTTP requests answered", ["route", "method", "status"],
                                registry=r)
        self.request_seconds = Histogram("feather_http_request_duration_seconds", "Time to answer an HTTP request",
                                         ["route", "method"], registry=r, buckets=DURATIONS)
        self.outbox_published = Gauge("feather_outbox_published", "Outbox records published since start",
                                      registry=r)
        self.outbox_pending = Gauge("feather_outbox_pending", "Outbox records waiting for the broker", registry=r)
        self.outbox_parked = Gauge("feather_outbox_parked", "Outbox records the broker refused, parked", registry=r)
        self.dead_letters = Counter("feather_dead_letters", "Messages a consumer gave up on", ["topic", "group"],
                                    registry=r)
        self.consumer_lag = Gauge("feather_consumer_lag", "Messages not yet handled, per consumer group and topic",
                                  ["group", "topic"], registry=r)
        self._refreshers: list[Callable[[], Awaitable[None]]] = []

    def on_scrape(self, refresh: Callable[[], Awaitable[None]]) -> None:
        """``refresh`` brings gauges up to date before each scrape."""
        self._refreshers.append(refresh)

    async def exposition(self) -> tuple[bytes, str]:
        for refresh in self._refreshers:
            await refresh()
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class RequestMetrics:
    """ASGI middleware counting every HTTP request by the route that matched (never the raw path,
    which would let callers make up label values)."""

    def __init__(self, app: ASGIApp, metrics: Callable[[], ServiceMetrics | None]) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)
        try:
            await self.app(scope, receive, sending)
        finally:
            metrics = self.metrics()
            if metrics is not None:
                route = getattr(scope.get("route"), "path", None) or ("portal" if status[0] < 400 else "unmatched")
                method = scope["method"]
                metrics.requests.labels(route, method, str(status[0])).inc()
                metrics.request_seconds.labels(route, method).observe(time.perf_counter() - began)
