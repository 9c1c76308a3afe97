"""Hostile models end with a clear status while the platform stays healthy and others keep answering."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import feather
from services.local.platform import LocalPlatform

pytestmark = pytest.mark.e2e
HOSTILE = Path(__file__).resolve().parent / "models" / "hostile" / "app.py"


@pytest.fixture(scope="module")
def hostile(client: feather.Client) -> str:
    answer = client.publish(str(HOSTILE))
    ref = f"{answer['owner']}/{answer['name']}"
    client.wait_ready(ref, answer["version"], timeout=300)
    return ref


def attack(http: httpx.Client, ref: str, step: str, inputs: dict, deadline_s: float = 60) -> dict:
    answer = http.post(f"/v1/models/{ref}/runs", headers={"Prefer": "wait"},
                       json={"step": step, "inputs": inputs, "deadline_s": deadline_s})
    assert answer.status_code == 201, answer.text
    return answer.json()


def still_fine(http: httpx.Client, hello: str, platform: LocalPlatform) -> None:
    for name in ("gateway", "executor"):
        assert httpx.get(f"http://127.0.0.1:{platform.ports[name]}/healthz").json()["status"] == "ok"
    run = http.post(f"/v1/models/{hello}/runs", json={"inputs": {"name": "still here"}},
                    headers={"Prefer": "wait"}).json()
    assert run["status"] == "succeeded"


def test_no_network(hostile, hello, http, platform):
    run = attack(http, hostile, "connect", {"host": "127.0.0.1", "port": platform.ports["gateway"]})
    assert run["status"] == "failed"
    assert "unreachable" in run["error"].lower() or "refused" in run["error"].lower(), run["error"]
    still_fine(http, hello, platform)


@pytest.mark.parametrize("target", ["store", "other model"])
def test_no_reading_the_platform_or_other_models(hostile, hello, http, platform, target):
    path = str(platform.data_dir / "gateway.db") if target == "store" else \
        str(platform.data_dir / "code" / "local" / "hello" / "1" / "app.py")
    run = attack(http, hostile, "read", {"path": path})
    assert run["status"] == "failed" and "No such file" in run["error"], run["error"]
    still_fine(http, hello, platform)


def test_fork_bomb_hits_the_process_limit(hostile, hello, http, platform):
    run = attack(http, hostile, "fork_bomb", {"children": 500})
    assert run["status"] == "failed"
    assert "resource temporarily unavailable" in run["error"].lower() or "crashed" in run["error"], run["error"]
    still_fine(http, hello, platform)


def test_memory_hog_is_stopped_at_its_limit(hostile, hello, http, platform):
    run = attack(http, hostile, "hog_memory", {"megabytes": 4000})
    assert run["status"] == "failed"
    assert "memory" in run["error"].lower(), run["error"]
    still_fine(http, hello, platform)


def test_filling_tmp_stops_at_its_size(hostile, hello, http, platform):
    run = attack(http, hostile, "fill_tmp", {"megabytes": 2000})
    assert run["status"] == "failed"
    assert "no space left" in run["error"].lower() or "file too large" in run["error"].lower(), run["error"]
    still_fine(http, hello, platform)


def test_a_run_that_never_returns_times_out(hostile, hello, http, platform):
    run = attack(http, hostile, "hang", {"seconds": 1}, deadline_s=2)
    assert run["status"] == "timed_out" and "deadline" in run["error"]
    still_fine(http, hello, platform)


def test_a_worker_that_kills_itself_fails_the_run_and_the_pool_heals(hostile, hello, http, platform):
    run = attack(http, hostile, "suicide", {"how": "SIGKILL"})
    assert run["status"] == "failed" and "crashed" in run["error"], run["error"]
    again = attack(http, hostile, "read", {"path": "/etc/hostname-that-is-not-there"})
    assert again["status"] == "failed" and "No such file" in again["error"]
    still_fine(http, hello, platform)
