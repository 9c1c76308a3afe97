"""Alert rules: a rule that starts holding fires once, is delivered signed to the owner's webhook
and kept with its state; one that stops holding resolves; too few runs decide nothing."""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import feather.webhooks
import httpx
import pytest
from harness import as_gateway, settings_for
from test_telemetry_rollups import NOW, history

from services.telemetry import handlers, watch
from services.telemetry.app import create_app

RULES = {"rules": [{"name": "errors", "metric": "error_rate", "threshold": 0.1, "window_min": 60, "min_runs": 5},
                   {"name": "slow", "metric": "p95_ms", "threshold": 1e9, "window_min": 60, "min_runs": 5},
                   {"name": "accuracy", "metric": "accuracy", "threshold": 0.9, "window_min": 60}],
         "webhook": "https://hooks.example.org/feather"}


@pytest.fixture
async def telemetry(tmp_path):
    app = create_app(settings_for(tmp_path, webhooks_to_private_addresses=True))  # no name is resolved
    async with app.router.lifespan_context(app):
        ctx = app.state.service.ctx
        for env in history():  # 60 runs in the hour before NOW, 15% of them failed or timed out
            await handlers.on_run(ctx.store, env)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                     headers=as_gateway(app.state.service.ctx.settings)) as http:
            yield http, ctx


async def test_a_rule_that_starts_holding_fires_once_signed_and_resolves_when_it_stops(telemetry):
    http, ctx = telemetry
    secret = (await http.put("/v1/models/t/m/alerts", json=RULES)).json()["secret"]
    assert secret.startswith("whsec_")
    posted: list[httpx.Request] = []
    hooks = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: posted.append(r) or httpx.Response(204)))

    fired = await watch.evaluate(ctx, hooks, NOW)
    assert [(e.rule, e.state, round(e.value, 2)) for e in fired] == [("errors", "firing", 0.15)]
    assert await watch.evaluate(ctx, hooks, NOW + timedelta(seconds=30)) == []  # still firing: no new event
    (request,) = posted
    expected = "sha256=" + hmac.new(secret.encode(), request.content, hashlib.sha256).hexdigest()
    assert request.headers["feather-signature"] == expected and str(request.url) == RULES["webhook"]
    assert json.loads(request.content)["state"] == "firing"
    # and by Standard Webhooks, as run webhooks are
    assert feather.webhooks.verify(request.headers, request.content, secret, now=NOW.timestamp())["rule"] == "errors"
    assert (await ctx.store.outbox_pending_count()) >= 1  # the AlertChanged event, in the same write

    shown = (await http.get("/v1/models/t/m/alerts")).json()
    assert {r["name"]: r["state"] for r in shown["rules"]} == {"errors": "firing", "slow": "ok", "accuracy": "ok"}
    assert [e["state"] for e in shown["events"]] == ["firing"]

    looser = {**RULES, "rules": [{**RULES["rules"][0], "threshold": 0.5}, *RULES["rules"][1:]]}
    assert (await http.put("/v1/models/t/m/alerts", json=looser)).json()["secret"] == secret  # kept
    resolved = await watch.evaluate(ctx, hooks, NOW + timedelta(minutes=1))
    assert [(e.rule, e.state) for e in resolved] == [("errors", "resolved")] and len(posted) == 2
    # an hour later no run is in the window: too few to decide, so nothing changes
    assert await watch.evaluate(ctx, hooks, NOW + timedelta(hours=3)) == []


@pytest.mark.parametrize("rules", [
    {"rules": [{"name": "x", "metric": "uptime", "threshold": 1}]},
    {"rules": [{"name": "x", "metric": "error_rate", "threshold": 0.1}] * 2},
    {"rules": [{"name": "x", "metric": "error_rate", "threshold": 0.1, "window_min": 0}]},
    {"rules": [], "webhook": "not a url"},
])
async def test_rules_that_make_no_sense_are_refused(telemetry, rules):
    http, _ = telemetry
    answer = await http.put("/v1/models/t/m/alerts", json=rules)
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"][0] == "body"


async def test_a_webhook_is_posted_to_the_address_that_was_checked(telemetry, monkeypatch):
    import asyncio
    import socket

    http, ctx = telemetry
    ctx.settings.webhooks_to_private_addresses = False
    answers = iter(["93.184.216.34", "127.0.0.1"])  # the name is rebound after the check

    async def getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), 0))]
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    await http.put("/v1/models/t/m/alerts", json=RULES)
    posted: list[httpx.Request] = []
    hooks = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: posted.append(r) or httpx.Response(204)))
    await watch.evaluate(ctx, hooks, NOW)
    (request,) = posted
    assert request.url.host == "93.184.216.34" and request.headers["host"] == "hooks.example.org"
    assert request.extensions["sni_hostname"] == "hooks.example.org"
