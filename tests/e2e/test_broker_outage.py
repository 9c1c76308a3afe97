"""A stopped broker delays events but loses none: the outboxes catch up when it returns."""
from __future__ import annotations

import secrets
import time
from pathlib import Path

import httpx
import pytest

import feather
from services.local.platform import LocalPlatform
from publishing import published

pytestmark = pytest.mark.e2e
HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello" / "app.py"


@pytest.fixture(scope="module")
def own_platform(tmp_path_factory: pytest.TempPathFactory):
    local = LocalPlatform.on_free_ports(tmp_path_factory.mktemp("outage"), "ft_" + secrets.token_urlsafe(24))
    try:
        local.start()
        yield local
    finally:
        local.stop()


def test_runs_accepted_while_the_broker_is_down_complete_after_it_returns(own_platform: LocalPlatform):
    with feather.Client(own_platform.gateway_url, token=own_platform.admin_token) as client:
        ref = published(client, HELLO)
        assert client.run(ref, name="before").status == "succeeded"

    own_platform.stop_process("broker")
    http = httpx.Client(base_url=own_platform.gateway_url, timeout=30)
    accepted = []
    for i in range(5):
        answer = http.post(f"/v1/models/{ref}/runs", json={"inputs": {"name": f"during-{i}"}},
                           headers={"Prefer": "wait=0.5"})
        assert answer.status_code == 202, answer.text
        accepted.append(answer.json()["urls"]["get"])  # anonymous runs: read with their token
    assert all(http.get(url).json()["status"] == "queued" for url in accepted)

    own_platform.start_broker()
    deadline = time.monotonic() + 90
    pending = set(accepted)
    while pending and time.monotonic() < deadline:
        for rid in sorted(pending):
            run = http.get(rid).json()
            if run["status"] not in ("queued", "running"):  # running is on its way, under load for a while
                assert run["status"] == "succeeded", run
                assert run["outputs"]["greeting"].startswith("Hello")
                pending.discard(rid)
        time.sleep(0.25)
    assert not pending, f"runs not ended after the broker came back: {sorted(pending)}"

    after = http.post(f"/v1/models/{ref}/runs", json={"inputs": {"name": "after"}}, headers={"Prefer": "wait"})
    assert after.status_code == 201 and after.json()["status"] == "succeeded"
