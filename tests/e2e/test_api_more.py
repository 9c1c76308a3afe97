"""Files, cancel, multi-step, per-model OpenAPI, the caller's runs, build logs and deleting a model."""
from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

import feather
from publishing import published

pytestmark = pytest.mark.e2e
MODELS = Path(__file__).resolve().parent / "models"


def publish(client: feather.Client, folder: str) -> str:
    return published(client, MODELS / folder / "app.py")


def test_files_upload_and_download(http: httpx.Client):
    uploaded = http.post("/v1/files", files={"file": ("notes.txt", b"hello file", "text/plain")})
    assert uploaded.status_code == 201
    value = uploaded.json()
    assert value["url"].startswith("feather:files/") and value["url"].endswith("/notes.txt")
    assert value["size"] == 10 and value["content_type"] == "text/plain"
    fid = value["url"].removeprefix("feather:files/")
    got = http.get(f"/v1/files/{fid}")
    assert got.status_code == 200 and got.content == b"hello file"
    assert got.headers["content-type"].startswith("text/plain")
    assert http.get("/v1/files/0000/none.txt").status_code == 404
    assert http.get("/v1/files/..%2F..%2Fetc%2Fpasswd").status_code == 404
    # anyone may upload, so nothing that could run script is shown inline on the portal's origin
    page = http.post("/v1/files", files={"file": ("evil.html", b"<script>alert(1)</script>", "text/html")}).json()
    served = http.get("/v1/files/" + page["url"].removeprefix("feather:files/"))
    assert served.headers["content-disposition"].startswith("attachment")
    assert served.headers["x-content-type-options"] == "nosniff" and "sandbox" in served.headers["content-security-policy"]
    assert "root:" not in http.get("/v1/files/../../etc/passwd").text


def test_a_long_run_can_be_canceled_within_a_second(client: feather.Client, http: httpx.Client):
    ref = publish(client, "slow")
    run = http.post(f"/v1/models/{ref}/runs", json={"inputs": {"seconds": 30}}).json()
    time.sleep(1.0)  # let it start
    asked = time.monotonic()
    answer = http.post(f"/v1/runs/{run['id']}/cancel")
    assert answer.status_code == 202
    while time.monotonic() - asked < 5:
        status = http.get(f"/v1/runs/{run['id']}").json()["status"]
        if status != "queued" and status != "running":
            break
        time.sleep(0.05)
    took = time.monotonic() - asked
    assert status == "canceled"
    assert took < 1.5, f"cancel took {took:.2f}s"
    assert http.post(f"/v1/runs/{run['id']}/cancel").status_code == 409
    # the pool healed: the same model still answers
    again = http.post(f"/v1/models/{ref}/runs", json={"inputs": {"seconds": 0}}, headers={"Prefer": "wait"}).json()
    assert again["status"] == "succeeded"


def test_multi_step_one_step_at_a_time_and_as_a_chain(client: feather.Client, http: httpx.Client):
    ref = publish(client, "two-steps")
    first = http.post(f"/v1/models/{ref}/runs", json={"inputs": {"text": "hi"}}, headers={"Prefer": "wait"}).json()
    assert first["step"] == "shout" and first["outputs"] == {"shout": "HI"}
    second = http.post(f"/v1/models/{ref}/runs", headers={"Prefer": "wait"},
                       json={"previous_run": first["id"], "inputs": {"times": 3}}).json()
    assert second["step"] == "repeat", second
    assert second["outputs"] == {"result": "HI HI HI", "length": 8}

    chain = http.post(f"/v1/models/{ref}/runs", headers={"Prefer": "wait"},
                      json={"inputs": {"text": "yo"}, "chain": True, "choices": {"repeat": {"times": 2}}}).json()
    assert chain["status"] == "succeeded", chain
    assert chain["outputs"] == {"result": "YO YO", "length": 5}
    assert [s["step"] for s in chain["steps"]] == ["shout", "repeat"]

    bad = http.post(f"/v1/models/{ref}/runs", json={"inputs": {"text": "x"}, "chain": True,
                                                    "choices": {"nonsense": {}}})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "choices", "nonsense"]
    unknown_prev = http.post(f"/v1/models/{ref}/runs", json={"previous_run": "nope", "inputs": {}})
    assert unknown_prev.status_code == 422


def test_model_openapi_describes_its_steps(hello: str, http: httpx.Client):
    doc = http.get(f"/v1/models/{hello}/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    body = doc["paths"][f"/v1/models/{hello}/runs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["oneOf"][0]["properties"]["inputs"]["required"] == ["name"]


def test_my_runs_and_the_owner_sees_logs(hello: str, http: httpx.Client, platform):
    mine = http.post(f"/v1/models/{hello}/runs", json={"inputs": {"name": "me"}}, headers={"Prefer": "wait"}).json()
    listed = http.get("/v1/runs", params={"model": hello, "limit": 200}).json()["items"]
    assert mine["id"] in [r["id"] for r in listed]
    assert mine["logs"] is not None  # the owner sees logs
    # a signed-in user's run is theirs and the owner's: to anyone else it does not exist
    assert httpx.get(f"{platform.gateway_url}/v1/runs/{mine['id']}").status_code == 404
    anonymous = httpx.post(f"{platform.gateway_url}/v1/models/{hello}/runs", json={"inputs": {"name": "x"}},
                           headers={"Prefer": "wait"}).json()
    assert anonymous["logs"] is None and anonymous["traceback"] is None  # logs are the owner's
    assert "?token=" in anonymous["urls"]["get"]
    assert httpx.get(f"{platform.gateway_url}/v1/runs").status_code == 401


def test_build_log_can_be_followed_with_an_offset(hello: str, http: httpx.Client, platform):
    full = http.get(f"/v1/models/{hello}/versions/1/build-log")
    assert full.headers["x-build-status"] == "ready" and "built in" in full.text
    assert str(platform.data_dir) not in full.text  # host paths are hidden
    tail = http.get(f"/v1/models/{hello}/versions/1/build-log", params={"offset": 10})
    assert tail.content == full.content[10:]


def test_delete_hides_the_model_and_publishing_again_continues_the_versions(client: feather.Client,
                                                                             http: httpx.Client, platform):
    ref = publish(client, "slow")
    before = http.get(f"/v1/models/{ref}").json()["latest_version"]
    assert httpx.delete(f"{platform.gateway_url}/v1/models/{ref}").status_code == 401
    assert http.delete(f"/v1/models/{ref}").status_code == 204
    assert http.get(f"/v1/models/{ref}").status_code == 404
    assert ref not in [m["id"] for m in http.get("/v1/models").json()["items"]]
    assert http.post(f"/v1/models/{ref}/runs", json={"inputs": {"seconds": 0}}).status_code == 404
    again = publish(client, "slow")
    assert http.get(f"/v1/models/{again}").json()["latest_version"] == before + 1


def test_links_into_the_platform_are_not_fetched(client: feather.Client, http: httpx.Client, platform):
    ref = publish(client, "files")
    for url in (f"http://127.0.0.1:{platform.ports['telemetry']}/v1/models/local/hello/runs",
                "http://169.254.169.254/latest/meta-data/", "http://localhost:9/", "http://[64:ff9b::7f00:1]/",
                "http://[::ffff:127.0.0.1]/", "http://[2002:7f00:1::1]/"):
        answer = http.post(f"/v1/models/{ref}/runs", json={"inputs": {"doc": {"url": url}}})
        assert answer.status_code == 422, (url, answer.text)
        assert "public address" in answer.json()["detail"][0]["msg"], answer.text


def test_anonymous_runs_are_canceled_by_the_model_owner_or_the_token_holder(client: feather.Client, http: httpx.Client, platform):
    ref = publish(client, "slow")
    anonymous = httpx.Client(base_url=platform.gateway_url)
    run = anonymous.post(f"/v1/models/{ref}/runs", json={"inputs": {"seconds": 5}}).json()
    assert anonymous.post(f"/v1/runs/{run['id']}/cancel").status_code == 404  # the id alone is not enough
    assert http.post(f"/v1/runs/{run['id']}/cancel").status_code == 202  # the owner may
    other = anonymous.post(f"/v1/models/{ref}/runs", json={"inputs": {"seconds": 5}}).json()
    canceled = anonymous.post(other["urls"]["cancel"])  # and so may whoever holds its token
    assert canceled.status_code == 202 and canceled.json()["urls"]["get"] == other["urls"]["get"]


def test_a_chain_shares_one_deadline_counted_from_acceptance(client: feather.Client, http: httpx.Client):
    ref = publish(client, "slow-chain")
    fits = http.post(f"/v1/models/{ref}/runs", headers={"Prefer": "wait"},
                     json={"chain": True, "inputs": {"seconds": 0.2}, "deadline_s": 20}).json()
    assert fits["status"] == "succeeded" and fits["outputs"] == {"total": 0.4}, fits
    # each step alone fits in the deadline; both together do not, so the second gets only what is left
    run = http.post(f"/v1/models/{ref}/runs", headers={"Prefer": "wait"},
                    json={"chain": True, "inputs": {"seconds": 2.5}, "deadline_s": 4}).json()
    assert run["status"] == "timed_out" and "deadline" in run["error"], run  # not 5 s of success
    too_long = http.post(f"/v1/models/{ref}/runs", json={"inputs": {"seconds": 1}, "deadline_s": 100_000})
    assert too_long.status_code == 422 and too_long.json()["detail"][0]["loc"] == ["body", "deadline_s"]
