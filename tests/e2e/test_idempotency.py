"""Idempotency-Key across two gateway processes in front of the same platform: a retry sent to
either answers the run or version the first request made, and a key names one request only."""
from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from services.local.platform import free_port

from conftest import ROOT


@pytest.fixture(scope="module")
def second_gateway(platform) -> Iterator[httpx.Client]:
    """Another gateway process, as a second replica would run, on the same store and broker."""
    port = free_port()
    env = {**platform.service_env("gateway"), "FEATHER_PORT": str(port), "FEATHER_ADMIN_PORT": str(free_port())}
    platform._spawn("gateway-2", [sys.executable, "-m", "services.gateway"], env)
    try:
        platform.ports["gateway-2"] = port
        platform.wait_healthy(60, names=("gateway-2",))
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                          headers={"Authorization": f"Bearer {platform.admin_token}"}) as http:
            yield http
    finally:
        platform.stop_process("gateway-2")
        platform.ports.pop("gateway-2", None)


def test_the_same_key_and_body_on_either_gateway_make_one_run(hello, http, second_gateway):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = http.post(f"/v1/models/{hello}/runs", json={"inputs": {"name": "once"}}, headers={**key, "Prefer": "wait"})
    again = second_gateway.post(f"/v1/models/{hello}/runs", json={"inputs": {"name": "once"}}, headers=key)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and again.json()["outputs"] == first.json()["outputs"]
    for _ in range(100):  # telemetry lists a run once it has read the run's events
        runs = http.get(f"/v1/models/{hello}/runs", params={"limit": 50}).json()["items"]
        if first.json()["id"] in [r["id"] for r in runs]:
            break
        time.sleep(0.1)
    assert [r["id"] for r in runs].count(first.json()["id"]) == 1
    assert sum(1 for r in runs if r["inputs"] == {"name": "once"}) == 1

    other = second_gateway.post(f"/v1/models/{hello}/runs", json={"inputs": {"name": "twice"}}, headers=key)
    assert other.status_code == 422 and other.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    bad = http.post(f"/v1/models/{hello}/runs", json={"inputs": {}}, headers={"Idempotency-Key": "k" * 256})
    assert bad.status_code == 400 and bad.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]


def test_a_refused_request_leaves_its_key_free(hello, http, second_gateway):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    refused = http.post(f"/v1/models/{hello}/runs", json={"inputs": {"name": 5}}, headers=key)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"][:3] == ["body", "inputs", "name"]
    fixed = second_gateway.post(f"/v1/models/{hello}/runs", json={"inputs": {"name": "fixed"}}, headers=key)
    assert fixed.status_code in (201, 202) and "idempotent-replayed" not in fixed.headers


def test_publishing_again_with_the_same_key_makes_no_new_version(http, second_gateway, tmp_path):
    from feather._bundle import pack
    name = "idem-" + uuid.uuid4().hex[:6]
    source = (ROOT / "examples" / "hello" / "app.py").read_text().replace('ft.Model("hello"', f'ft.Model("{name}"')
    bundles = []
    for i, description in enumerate(("Greets whoever you name.", "Greets anyone.")):
        app = tmp_path / str(i) / "app.py"
        app.parent.mkdir()
        app.write_text(source.replace("Greets whoever you name.", description))
        bundles.append(pack(app))
    key = {"Idempotency-Key": str(uuid.uuid4())}

    def publish(gateway: httpx.Client, bundle: bytes) -> httpx.Response:
        return gateway.post("/v1/models", files={"bundle": ("bundle.tar.gz", bundle, "application/gzip")},
                            headers=key)
    first, again = publish(http, bundles[0]), publish(second_gateway, bundles[0])
    assert first.status_code == 201, first.text
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    changed = publish(second_gateway, bundles[1])  # another bundle under the same key
    assert changed.status_code == 422 and changed.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    model = http.get(f"/v1/models/{first.json()['owner']}/{name}").json()
    assert model["latest_version"] == 1 and model["description"] == "Greets whoever you name."
    http.delete(f"/v1/models/{first.json()['owner']}/{name}")


def test_the_client_sends_a_key_and_a_retry_gets_the_same_run(client, hello):
    key = str(uuid.uuid4())
    first = client.run_with(hello, {"name": "from the client"}, idempotency_key=key)
    again = client.run_with(hello, {"name": "from the client"}, idempotency_key=key)
    assert again.id == first.id and again.outputs == first.outputs == {"greeting": "Hello, from the client!"}
