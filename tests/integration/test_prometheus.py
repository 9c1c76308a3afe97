"""Prometheus text at /metrics: every service's own registry, labelled by route (never by raw
path); the gateway serves it on its admin port only."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from services.gateway.app import create_app as gateway_app
from services.kit.runtime import metrics_app
from services.kit.identity import Identity
from services.kit.settings import Settings
from services.local.platform import free_port
from services.telemetry.app import create_app as telemetry_app


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, kafka_bootstrap="127.0.0.1:1", admin_token="ft_admin")


async def test_a_service_counts_its_requests_by_route_and_reports_its_outbox(tmp_path):
    app = telemetry_app(settings(tmp_path))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                     headers=Identity.of("gateway", settings(tmp_path)).headers("telemetry")) as http:
            await http.get("/healthz")
            await http.get("/v1/models/a/b/metrics")
            await http.get("/v1/models/c/d/metrics")
            await http.get("/no/such/path/12345")
            answer = await http.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    found = samples(answer.text)
    route = (("method", "GET"), ("route", "/v1/models/{owner}/{name}/metrics"), ("status", "200"))
    assert found[("feather_http_requests_total", route)] == 2  # one route, whatever the path's values
    assert found[("feather_http_requests_total", (("method", "GET"), ("route", "unmatched"), ("status", "404")))] == 1
    assert not any("12345" in str(labels) for _, labels in found)
    assert found[("feather_outbox_pending", ())] == 0 and found[("feather_outbox_parked", ())] == 0


async def test_the_gateway_serves_metrics_on_its_admin_app_only(tmp_path):
    app = gateway_app(settings(tmp_path))
    admin = metrics_app(app)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as public:
            await public.get("/v1/models")
            exposed = await public.get("/metrics")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=admin), base_url="http://admin") as private:
            answer = await private.get("/metrics")
    assert "feather_http_requests_total" not in exposed.text  # the public port never says
    found = samples(answer.text)
    assert found[("feather_http_requests_total", (("method", "GET"), ("route", "/v1/models"), ("status", "200")))] == 1


def test_the_gateway_process_serves_both_ports_and_stops_on_sigterm(tmp_path):
    port, admin = free_port(), free_port()
    env = {**os.environ, "FEATHER_PORT": str(port), "FEATHER_ADMIN_PORT": str(admin),
           "FEATHER_DATA_DIR": str(tmp_path), "FEATHER_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    proc = subprocess.Popen([sys.executable, "-m", "services.gateway"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{admin}/metrics", timeout=2)
                if answer.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "the admin port never answered"
            time.sleep(0.2)
        assert "feather_outbox_pending" in answer.text
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["service"] == "gateway"
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then lets the signal end the process as it would have
        assert proc.wait(20) in (0, -signal.SIGTERM)
        for closed in (port, admin):
            try:
                httpx.get(f"http://127.0.0.1:{closed}/healthz", timeout=2)
                raise AssertionError(f"port {closed} still answers")
            except httpx.ConnectError:
                pass
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_consumer_lag_is_reported_per_group_and_topic_on_a_real_broker(tansu, tmp_path):
    import asyncio
    import uuid

    from services.contracts.events import FeedbackGiven
    from services.kit.bus import Bus

    settings = Settings(data_dir=tmp_path, kafka_bootstrap=tansu.bootstrap, kafka_idempotence=False,
                        kafka_session_timeout_ms=3000, instance_id=uuid.uuid4().hex[:8])
    app = telemetry_app(settings)
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app.state.service.ctx.bus_ready.wait(), 60)
        sender = Bus(settings, "test-sender")
        await sender.start()
        try:
            for i in range(3):
                await sender.publish(FeedbackGiven(run_id=f"lag-{uuid.uuid4().hex}", rating="up"))
        finally:
            await sender.stop()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            found: dict = {}
            for _ in range(100):  # once the consumer has fetched (and so knows the partitions' ends)
                found = samples((await http.get("/metrics")).text)
                if any(name == "feather_consumer_lag" for name, _ in found):
                    break
                await asyncio.sleep(0.2)
    lags = {dict(labels)["topic"]: value for (name, labels), value in found.items() if name == "feather_consumer_lag"}
    assert "feather.feedback" in lags and all(value >= 0 for value in lags.values())
    assert {dict(labels)["group"] for (name, labels) in found if name == "feather_consumer_lag"} == {"feather-telemetry"}
