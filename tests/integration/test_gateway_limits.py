"""The gateway's throttling, quotas and account rules, in process against its real store (SQLite).

No broker runs here: runs stay queued, which is what the quota on unfinished runs needs."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from datetime import datetime, timedelta, timezone
from collections.abc import AsyncIterator

import httpx
import pytest
from streams import longest_stall

from services.contracts.envelope import Envelope
from services.contracts.events import RunCompleted
from services.gateway.app import create_app
from services.gateway.auth import add_token
from services.gateway.routes import accounts
from services.gateway.sweeper import sweep_slots
from services.kit.settings import Settings

MANIFEST = {"name": "echo", "steps": [{"name": "echo", "inputs": [{"name": "text", "kind": "text"}],
                                       "outputs": [{"name": "text", "kind": "text"}],
                                       "input_schema": {"type": "object", "properties": {"text": {"type": "string"}},
                                                        "additionalProperties": False}}]}


@contextlib.asynccontextmanager
async def gateway(tmp_path, address: str = "203.0.113.7", **settings) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    app = create_app(Settings(data_dir=tmp_path, kafka_bootstrap="127.0.0.1:1", admin_token="ft_admin", **settings))
    async with app.router.lifespan_context(app):
        service = app.state.service
        ctx = service.ctx
        await ctx.store.apply("models", "local/echo", {"owner": "local", "name": "echo", "visibility": "public",
                                                      "latest_version": 1, "deleted": False}, event_id="m")
        await ctx.store.apply("versions", "local/echo@1", {"model_id": "local/echo", "version": 1,
                                                          "status": "ready", "manifest": MANIFEST}, event_id="v")
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://feather.test") as http:
            yield http, service


async def test_every_answer_says_where_the_caller_stands_and_past_the_limit_is_429(tmp_path):
    async with gateway(tmp_path, rate_anonymous_per_min=5) as (http, _):
        answers = [await http.get("/v1/models") for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    first, refused = answers[0], answers[-1]
    assert '"anonymous";q=5;w=60' in first.headers["ratelimit-policy"]
    assert first.headers["ratelimit"].startswith('"anonymous";r=4;t=')
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit"].startswith('"anonymous";r=0;')
    assert "anonymous" in refused.json()["detail"]


async def test_replicas_share_the_count(tmp_path):
    async with gateway(tmp_path, rate_anonymous_per_min=4) as (one, _):
        async with gateway(tmp_path, rate_anonymous_per_min=4) as (other, _):
            statuses = [(await (one if i % 2 else other).get("/v1/models")).status_code for i in range(5)]
    assert statuses == [200, 200, 200, 200, 429]


async def test_run_creations_have_a_stricter_limit_than_other_calls(tmp_path):
    async with gateway(tmp_path, rate_anonymous_runs_per_min=2) as (http, _):
        created = [await http.post("/v1/models/local/echo/runs", json={"inputs": {"text": "a"}}) for _ in range(3)]
        assert [c.status_code for c in created] == [202, 202, 429]
        assert (await http.get("/v1/models")).status_code == 200


async def test_unfinished_runs_are_held_to_a_quota(tmp_path):
    async with gateway(tmp_path, quota_active_runs=2) as (http, gw):
        created = [await http.post("/v1/models/local/echo/runs", json={"inputs": {"text": "a"}}) for _ in range(3)]
        assert [c.status_code for c in created] == [202, 202, 429]
        assert "at most 2 unfinished runs" in created[-1].json()["detail"]
        # a run that ends frees its place
        run_id = created[0].json()["id"]
        done = RunCompleted(run_id=run_id, model_id="local/echo", version=1, step="echo", status="succeeded",
                            outputs={"text": "a"}, requested_at=datetime.now(timezone.utc))
        now = datetime.now(timezone.utc)
        await gw.projections.record_completion(
            Envelope(id="done-1", type=done.name, source="test", time=now, event=done))
        again = await http.post("/v1/models/local/echo/runs", json={"inputs": {"text": "a"}})
        assert again.status_code == 202, again.text


async def test_login_attempts_are_limited_per_account_from_any_address(tmp_path):
    async with gateway(tmp_path, rate_login_per_account_min=3) as (http, _):
        await http.post("/v1/auth/signup", json={"username": "ana", "password": "long enough"})
        statuses = []
        for i in range(4):
            async with gateway(tmp_path, address=f"198.51.100.{i}", rate_login_per_account_min=3) as (elsewhere, _):
                statuses.append((await elsewhere.post("/v1/auth/login",
                                                      json={"username": "ana", "password": "wrong guess"})).status_code)
    assert statuses == [401, 401, 401, 429]


async def test_an_unknown_user_costs_a_hash_like_a_wrong_password(tmp_path, monkeypatch):
    checked: list[str] = []
    real = accounts._hasher

    class Counting:
        def hash(self, password):
            return real.hash(password)

        def verify(self, hashed, password):
            checked.append(hashed)
            return real.verify(hashed, password)
    monkeypatch.setattr(accounts, "_hasher", Counting())
    async with gateway(tmp_path) as (http, _):
        await http.post("/v1/auth/signup", json={"username": "ana", "password": "long enough"})
        wrong = await http.post("/v1/auth/login", json={"username": "ana", "password": "not it at all"})
        unknown = await http.post("/v1/auth/login", json={"username": "nobody", "password": "not it at all"})
    assert wrong.status_code == unknown.status_code == 401 and wrong.json() == unknown.json()
    assert len(checked) == 2 and checked[1] == accounts._UNKNOWN_USER_HASH


async def test_password_hashing_leaves_the_event_loop_free(tmp_path):
    async with gateway(tmp_path, rate_login_per_address_min=100, rate_login_per_account_min=100) as (http, _):
        await http.post("/v1/auth/signup", json={"username": "ana", "password": "long enough"})
        logins = [http.post("/v1/auth/login", json={"username": "ana", "password": "long enough"}) for _ in range(12)]
        answers, stall, _ = await longest_stall(asyncio.gather(*logins), every_s=0.005)
    assert all(a.status_code == 200 for a in answers)
    # the peer to compare with: one argon2 check, timed here. On the loop, each check would hold
    # it that long at least; on worker threads the loop keeps ticking while they run
    started = time.perf_counter()
    accounts._hasher.hash("long enough")
    one_hash = time.perf_counter() - started
    assert stall < one_hash, (stall, one_hash)


async def test_a_token_does_only_what_its_scopes_allow_and_not_past_its_expiry(tmp_path):
    async with gateway(tmp_path) as (http, gw):
        ctx = gw.ctx
        reader = (await add_token(ctx, "local", "reader", scopes=["read"]))["token"]
        old = (await add_token(ctx, "local", "old", expires_at="2020-01-01T00:00:00+00:00"))["token"]
        as_reader = {"Authorization": f"Bearer {reader}"}
        assert (await http.get("/v1/runs", headers=as_reader)).status_code == 200
        refused = await http.post("/v1/models/local/echo/runs", json={"inputs": {}}, headers=as_reader)
        assert refused.status_code == 403 and "may not run" in refused.json()["detail"]
        assert (await http.get("/v1/me", headers={"Authorization": f"Bearer {old}"})).status_code == 401
        listed = (await http.get("/v1/tokens", headers={"Authorization": "Bearer ft_admin"})).json()["items"]
        assert {t["name"]: t["scopes"] for t in listed}["reader"] == ["read"]
        assert all("last_used_at" in t and "expires_at" in t for t in listed)


async def test_a_cursor_no_page_gave_out_is_a_422_not_a_500(tmp_path):
    async with gateway(tmp_path) as (http, _):
        forged = base64.urlsafe_b64encode(b'[{"a": 1}, "k"]').decode()
        answer = await http.get("/v1/runs", params={"cursor": forged}, headers={"Authorization": "Bearer ft_admin"})
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["query", "cursor"]


async def test_logout_needs_the_csrf_token_and_cookies_are_secure_behind_a_proxy(tmp_path):
    async with gateway(tmp_path) as (http, _):
        # the gateway is reached over plain HTTP from a TLS proxy: the Host is the public name
        signed = await http.post("/v1/auth/signup", json={"username": "ana", "password": "long enough"})
        assert all("secure" in c.lower() for c in signed.headers.get_list("set-cookie"))
    async with gateway(tmp_path / "local") as (http, _):
        http.base_url = "http://127.0.0.1:8080"  # a browser on this machine
        signed = await http.post("/v1/auth/signup", json={"username": "ana", "password": "long enough"})
        assert not any("secure" in c.lower() for c in signed.headers.get_list("set-cookie"))
        assert (await http.post("/v1/auth/logout")).status_code == 403  # another site's form post
        assert (await http.get("/v1/me")).status_code == 200  # and the session is still there
        out = await http.post("/v1/auth/logout", headers={"X-CSRF-Token": signed.json()["csrf_token"]})
        assert out.status_code == 204
        assert (await http.get("/v1/me")).status_code == 401


async def test_portal_pages_may_not_be_framed_and_leak_no_referrer(tmp_path):
    async with gateway(tmp_path) as (http, _):
        page = await http.get("/tokens")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["strict-transport-security"].startswith("max-age=")


@pytest.mark.parametrize("username", ["local\n", "ana\n", " ana"])
async def test_a_username_with_a_newline_is_refused(tmp_path, username):
    async with gateway(tmp_path) as (http, _):
        answer = await http.post("/v1/auth/signup", json={"username": username, "password": "long enough"})
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "username"]


async def test_a_users_stored_files_are_held_to_a_quota(tmp_path):
    async with gateway(tmp_path, quota_stored_mb=1) as (http, _):
        as_admin = {"Authorization": "Bearer ft_admin"}
        first = await http.post("/v1/files", files={"file": ("a.bin", b"x" * 700_000)}, headers=as_admin)
        second = await http.post("/v1/files", files={"file": ("b.bin", b"x" * 700_000)}, headers=as_admin)
    assert first.status_code == 201 and second.status_code == 413
    assert "quota" in second.json()["detail"][0]["msg"]


async def test_a_service_that_is_away_is_named_without_where_it_lives(tmp_path):
    async with gateway(tmp_path, registry_url="http://127.0.0.1:1") as (http, _):
        answer = await http.patch("/v1/models/local/echo", json={"description": "x"},
                                  headers={"Authorization": "Bearer ft_admin"})
    assert answer.status_code == 503, answer.text
    assert answer.json()["detail"] == "the registry is unavailable; try again shortly"


async def test_links_are_fetched_only_once_the_rest_of_the_request_is_valid(tmp_path):
    fetched: list[httpx.Request] = []
    manifest = {"name": "doc", "steps": [{"name": "read", "inputs": [], "outputs": [], "input_schema": {
        "type": "object", "properties": {"doc": {"type": "object", "properties": {"url": {"type": "string"}},
                                                 "required": ["url"]},
                                         "count": {"type": "integer"}}, "additionalProperties": False}}]}
    async with gateway(tmp_path) as (http, gw):
        ctx = gw.ctx
        await ctx.store.apply("models", "local/doc", {"owner": "local", "name": "doc", "visibility": "public",
                                                     "latest_version": 1, "deleted": False}, event_id="m")
        await ctx.store.apply("versions", "local/doc@1", {"model_id": "local/doc", "version": 1, "status": "ready",
                                                         "manifest": manifest}, event_id="v")
        gw.http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: fetched.append(r)))
        answer = await http.post("/v1/models/local/doc/runs", json={"inputs": {
            "doc": {"url": "https://example.org/big.bin"}, "count": "not a number"}})
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "inputs", "count"]
    assert fetched == []  # refused before the gateway fetched anything for the caller


async def test_a_place_left_behind_in_the_quota_is_freed_by_the_sweeper(tmp_path):
    async with gateway(tmp_path, quota_active_runs=1) as (http, gw):
        ctx = gw.ctx
        # a gateway stopped after taking the place, before recording the run
        await ctx.store.save("active_runs", "never-recorded", {"holder": "addr:203.0.113.7",
                                                               "taken_at": "2026-01-01T00:00:00+00:00"},
                             expected_version=None)
        assert (await http.post("/v1/models/local/echo/runs", json={"inputs": {}})).status_code == 429
        assert await sweep_slots(ctx, datetime.now(timezone.utc) + timedelta(seconds=1)) == 1
        assert (await http.post("/v1/models/local/echo/runs", json={"inputs": {}})).status_code == 202
        # a queued run keeps its place
        assert await sweep_slots(ctx) == 0
