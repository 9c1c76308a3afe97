"""Publish a model and run it end to end, over the real broker, with every service a process."""
from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

import feather
from services.local.platform import LocalPlatform
from publishing import published

MODELS = Path(__file__).resolve().parent / "models"

pytestmark = pytest.mark.e2e


def eventually(fetch, check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if check(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_every_service_answers_health(platform: LocalPlatform):
    for name in ("gateway", "registry", "builder", "executor", "telemetry"):
        health = httpx.get(f"http://127.0.0.1:{platform.ports[name]}/healthz").json()
        assert health["status"] == "ok" and health["service"] == name and health["bus"] == "ready"


def test_publish_run_and_record(hello: str, http: httpx.Client, client: feather.Client):
    model = http.get(f"/v1/models/{hello}").json()
    assert model["status"] == "ready" and model["versions"][-1]["status"] == "ready"
    assert model["manifest"]["steps"][0]["name"] == "greet"

    answer = http.post(f"/v1/models/{hello}/runs", json={"inputs": {"name": "Ada"}},
                       headers={"Prefer": "wait"})
    assert answer.status_code == 201, answer.text
    run = answer.json()
    assert run["status"] == "succeeded"
    assert "Ada" in run["outputs"]["greeting"]
    assert run["error"] is None
    metrics = run["metrics"]
    assert metrics["total_ms"] >= metrics["predict_ms"] >= 0 and metrics["queue_ms"] >= 0

    again = http.get(f"/v1/runs/{run['id']}").json()
    assert again["status"] == "succeeded" and again["outputs"] == run["outputs"]

    via_client = client.run(hello, name="Grace")
    assert via_client.status == "succeeded" and "Grace" in via_client.outputs["greeting"]

    stats = eventually(lambda: http.get(f"/v1/models/{hello}/metrics").json(), lambda m: m["runs"] >= 2)
    assert stats["runs"] >= 2 and stats["errors"] == 0
    assert stats["latency_ms"]["p50"] > 0 and stats["latency_ms"]["p95"] >= stats["latency_ms"]["p50"]
    recent = eventually(lambda: http.get(f"/v1/models/{hello}/runs").json()["items"],
                        lambda items: any(r["id"] == run["id"] and r.get("outputs") for r in items))
    mine = next(r for r in recent if r["id"] == run["id"])
    assert mine["inputs"] == {"name": "Ada"} and mine["outputs"] == run["outputs"]


def test_runs_without_waiting_are_accepted_then_finish(hello: str, http: httpx.Client):
    answer = http.post(f"/v1/models/{hello}/runs", json={"inputs": {"name": "Later"}})
    assert answer.status_code == 202
    run = answer.json()
    assert run["status"] == "queued" and answer.headers["location"] == f"/v1/runs/{run['id']}"
    done = eventually(lambda: http.get(f"/v1/runs/{run['id']}").json(), lambda r: r["status"] != "queued")
    assert done["status"] == "succeeded"


def test_bad_requests_are_refused_and_change_nothing(hello: str, http: httpx.Client, platform: LocalPlatform):
    before = http.get(f"/v1/models/{hello}/metrics").json()["requested"]

    assert http.get("/v1/models/nobody/nothing").status_code == 404
    assert http.post("/v1/models/nobody/nothing/runs", json={"inputs": {}}).status_code == 404

    missing = http.post(f"/v1/models/{hello}/runs", json={"inputs": {}})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "inputs", "name"]

    wrong_type = http.post(f"/v1/models/{hello}/runs", json={"inputs": {"name": 42}})
    assert wrong_type.status_code == 422 and wrong_type.json()["detail"][0]["loc"][-1] == "name"

    anonymous = httpx.post(f"{platform.gateway_url}/v1/models", files={"bundle": ("b.tar.gz", b"x")})
    assert anonymous.status_code == 401
    wrong = httpx.post(f"{platform.gateway_url}/v1/models", files={"bundle": ("b.tar.gz", b"x")},
                       headers={"Authorization": "Bearer ft_wrong"})
    assert wrong.status_code == 401
    garbage = http.post("/v1/models", files={"bundle": ("b.tar.gz", b"not a tarball")})
    assert garbage.status_code == 422 and garbage.json()["detail"][0]["loc"][:2] == ["body", "bundle"]

    time.sleep(0.5)
    assert http.get(f"/v1/models/{hello}/metrics").json()["requested"] == before


def test_a_raising_model_ends_failed_with_its_message(client: feather.Client, http: httpx.Client):
    ref = published(client, MODELS / "broken" / "app.py")
    run = http.post(f"/v1/models/{ref}/runs", json={"inputs": {"text": "this"}}, headers={"Prefer": "wait"}).json()
    assert run["status"] == "failed"
    assert "ValueError: cannot handle 'this'" in run["error"]
    with pytest.raises(feather.RunFailed, match="cannot handle"):
        client.run(ref, text="that")


def test_requirements_that_cannot_install_fail_the_build_with_a_readable_log(client: feather.Client,
                                                                              http: httpx.Client):
    answer = client.publish(str(MODELS / "unbuildable" / "app.py"))
    ref = f"{answer['owner']}/{answer['name']}"
    with pytest.raises(feather.BuildFailed) as caught:
        client.wait_ready(ref, answer["version"], timeout=300)
    assert "feather-test-package-that-does-not-exist" in caught.value.log
    model = http.get(f"/v1/models/{ref}").json()
    assert model["status"] == "failed" and model["versions"][-1]["error"]
    log = http.get(f"/v1/models/{ref}/versions/{answer['version']}/build-log")
    assert log.status_code == 200 and "feather-test-package-that-does-not-exist" in log.text
    refused = http.post(f"/v1/models/{ref}/runs", json={"inputs": {"text": "x"}})
    assert refused.status_code == 409
