"""A run whose executor dies is picked up again when the executor comes back: never stuck."""
from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

import feather
from services.local.platform import LocalPlatform
from publishing import published

pytestmark = pytest.mark.e2e
SLOW = Path(__file__).resolve().parent / "models" / "slow" / "app.py"


def test_a_run_survives_its_executor_being_killed(platform: LocalPlatform, client: feather.Client, http: httpx.Client):
    ref = published(client, SLOW)
    run = http.post(f"/v1/models/{ref}/runs", json={"inputs": {"seconds": 2}}).json()
    time.sleep(1.0)
    platform.procs["executor"].send_signal(signal.SIGKILL)
    platform.procs["executor"].wait(10)
    assert http.get(f"/v1/runs/{run['id']}").json()["status"] in ("queued", "running")
    platform.start_service("executor")
    platform.wait_healthy(60, names=("executor",))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = http.get(f"/v1/runs/{run['id']}").json()
        if done["status"] not in ("queued", "running"):
            break
        time.sleep(0.2)
    assert done["status"] == "succeeded", done
    assert done["outputs"] == {"done": "slept 2s"}
