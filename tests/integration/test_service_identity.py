"""The internal plane answers only the services it should: the registry's /internal routes and
telemetry's API take a token the gateway signed for them, and the user a call acts for is the
token's claim. What used to get through (an X-Feather-User header from anyone who can connect)
is now 401, and so is every token that is not exactly right; probes and scrapers stay open."""
from __future__ import annotations

import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from test_registry_limits import bundle

from services.kit.identity import Identity, new_key_pair
from services.kit.settings import Settings
from services.local.platform import free_port
from services.registry.app import create_app as registry_app
from services.telemetry.app import create_app as telemetry_app


def settings(tmp_path) -> Settings:
    # a port nothing listens on: the bus keeps retrying in the background, the API serves
    return Settings(data_dir=tmp_path, kafka_bootstrap=f"127.0.0.1:{free_port()}")


@pytest.fixture
async def registry(tmp_path):
    app = registry_app(settings(tmp_path))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://registry.test",
                                     timeout=60) as client:
            yield client


async def publish(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/internal/models", headers=headers,
                             files={"bundle": ("bundle.tar.gz", bundle(), "application/gzip")})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def gateway_key(tmp_path):
    """The gateway's private key, as the registry knows its public half (same data folder)."""
    Identity.of("gateway", settings(tmp_path))
    return serialization.load_pem_private_key((tmp_path / "keys" / "gateway.pem").read_bytes(), password=None)


async def test_a_user_header_from_anyone_no_longer_publishes(registry):
    answer = await publish(registry, {"X-Feather-User": "ann"})
    assert answer.status_code == 401 and "service token" in answer.json()["detail"]


async def test_the_gateways_token_publishes_as_the_user_it_names(registry, tmp_path):
    answer = await publish(registry, Identity.of("gateway", settings(tmp_path)).headers("registry", "ann"))
    assert answer.status_code == 201, answer.text
    assert answer.json()["owner"] == "ann"
    # a header beside the token changes nothing: the user is the token's
    answer = await publish(registry, {**Identity.of("gateway", settings(tmp_path)).headers("registry", "bob"),
                                      "X-Feather-User": "ann"})
    assert answer.status_code == 201 and answer.json()["owner"] == "bob"


def _tokens(tmp_path) -> dict[str, str]:
    now = int(time.time())
    key = gateway_key(tmp_path)
    other, _ = new_key_pair()
    claims = {"iss": "gateway", "aud": "registry", "iat": now, "exp": now + 30, "sub": "ann"}
    return {
        "for another service": Identity.of("gateway", settings(tmp_path)).token("telemetry", "ann"),
        "from a service the registry does not take calls from": Identity.of("executor", settings(tmp_path)).token(
            "registry", "ann"),
        "expired": jwt.encode({**claims, "iat": now - 120, "exp": now - 60}, key, algorithm="EdDSA"),
        "living too long": jwt.encode({**claims, "exp": now + 3600}, key, algorithm="EdDSA"),
        "signed by another key": Identity.of("gateway", Settings(data_dir=tmp_path / "x", service_key=other)).token(
            "registry", "ann"),
        "with a symmetric algorithm": jwt.encode(claims, "a secret shared by whoever forged this token", algorithm="HS256"),
        "unsigned": jwt.encode(claims, None, algorithm="none"),
        "not a token": "ann",
    }


@pytest.mark.parametrize("kind", [
    "for another service", "from a service the registry does not take calls from", "expired", "living too long",
    "signed by another key", "with a symmetric algorithm", "unsigned", "not a token"])
async def test_a_token_that_is_not_exactly_right_is_refused(registry, tmp_path, kind):
    answer = await publish(registry, bearer(_tokens(tmp_path)[kind]))
    assert answer.status_code == 401, (kind, answer.text)


async def test_a_token_naming_no_user_cannot_publish(registry, tmp_path):
    answer = await publish(registry, Identity.of("gateway", settings(tmp_path)).headers("registry"))
    assert answer.status_code == 401 and "act for a user" in answer.json()["detail"]


async def test_telemetry_serves_the_gateway_only_and_probes_stay_open(tmp_path):
    app = telemetry_app(settings(tmp_path))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            assert (await http.get("/v1/models/ann/private/runs")).status_code == 401
            assert (await http.get("/v1/tasks/digits/leaderboard")).status_code == 401
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get("/metrics")).status_code == 200
            assert (await http.get("/admin/outbox")).status_code == 403  # the operators' token, as before
            signed = Identity.of("gateway", settings(tmp_path)).headers("telemetry")
            assert (await http.get("/v1/models/ann/private/runs", headers=signed)).status_code == 200


def test_a_signature_checked_once_is_remembered_and_a_changed_event_is_still_refused(tmp_path):
    executor = Identity.of("executor", settings(tmp_path))
    gateway = Identity.of("gateway", settings(tmp_path))
    event = b'{"run_id": "r1", "status": "succeeded"}'
    signature = executor.sign(event)
    assert gateway.signed_by("executor", event, signature)
    assert gateway.signed_by("executor", event, signature)  # the second reader's check
    assert len(gateway._verified) == 1  # noqa: SLF001 - the cache is what is tested
    assert not gateway.signed_by("executor", event.replace(b"succeeded", b"failed"), signature)
    assert not gateway.signed_by("builder", event, signature)  # the same bytes from another sender
    assert len(gateway._verified) == 1  # noqa: SLF001 - refusals are never remembered
