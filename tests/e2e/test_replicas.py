"""Several replicas of a service on one machine, as several pods would run: two gateways, two
executors and two telemetry services (and one of each other service) on one broker, with topics
of several partitions and one store. Runs are answered through either gateway, read through the
other, spread over both executors, and survive the death of an executor or a gateway."""
from __future__ import annotations

import asyncio
import secrets
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

import feather
from conftest import GENEROUS_LIMITS, ROOT
from publishing import published
from services.contracts import topics
from services.local.platform import LocalPlatform

pytestmark = pytest.mark.e2e
SLOW = Path(__file__).resolve().parent / "models" / "slow" / "app.py"
PARTITIONS = 4
LEASE_S = 3.0
TERMINAL = ("succeeded", "failed", "canceled", "timed_out")


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory):
    local = LocalPlatform.on_free_ports(
        tmp_path_factory.mktemp("replicas"), "ft_" + secrets.token_urlsafe(24),
        replicas={"gateway": 2, "executor": 2, "telemetry": 2}, broker_proxy=True,
        extra_env={"FEATHER_KAFKA_PARTITIONS": str(PARTITIONS), "FEATHER_JOB_LEASE_S": str(LEASE_S),
                   "FEATHER_WORKER_MEMORY_MB": "512", **GENEROUS_LIMITS})
    try:
        local.start(timeout=120)
        print(f"\nreplicas: Tansu broker behind services/local/broker_proxy.py + {', '.join(local.processes())}; "
              f"{topics.RUNS} has {partitions_of(local, topics.RUNS)} partitions")
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def gateways(replicated: LocalPlatform):
    headers = {"Authorization": f"Bearer {replicated.admin_token}"}
    with httpx.Client(base_url=url_of(replicated, "gateway"), headers=headers, timeout=60) as one, \
            httpx.Client(base_url=url_of(replicated, "gateway-2"), headers=headers, timeout=60) as two:
        yield one, two


@pytest.fixture(scope="module")
def models(replicated: LocalPlatform) -> dict[str, str]:
    with feather.Client(replicated.gateway_url, token=replicated.admin_token) as client:
        return {"hello": published(client, ROOT / "examples" / "hello" / "app.py"), "slow": published(client, SLOW)}


def url_of(platform: LocalPlatform, name: str) -> str:
    return f"http://127.0.0.1:{platform.ports[name]}"


def partitions_of(platform: LocalPlatform, topic: str) -> int:
    async def count() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=platform.bootstrap)
        await consumer.start()
        try:
            await consumer.topics()
            return len(consumer.partitions_for_topic(topic) or ())
        finally:
            await consumer.stop()
    return asyncio.run(count())


def metric(platform: LocalPlatform, name: str, family: str) -> float:
    """The sum of a metric family's samples on one executor's /metrics."""
    text = httpx.get(f"{url_of(platform, name)}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(family) and not line.startswith("#"))


def ended(http: httpx.Client, run_ids: list[str], timeout: float = 90) -> dict[str, dict]:
    """Each run as ``http`` reads it once it is terminal (or as it stands when time runs out)."""
    runs: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = {run_id: http.get(f"/v1/runs/{run_id}").json() for run_id in run_ids}
        if all(r.get("status") in TERMINAL for r in runs.values()):
            break
        time.sleep(0.3)
    return runs


def test_topics_have_the_partitions_set(replicated: LocalPlatform) -> None:
    for topic in (topics.RUNS, topics.RUN_STATUS):
        assert partitions_of(replicated, topic) == PARTITIONS


def test_runs_sent_to_either_gateway_are_answered_read_on_the_other_and_spread_over_the_executors(
        replicated: LocalPlatform, gateways, models) -> None:
    before = {name: metric(replicated, name, "feather_runs_total") for name in ("executor", "executor-2")}

    def one(i: int) -> tuple[int, httpx.Response]:
        http = gateways[i % 2]
        return i, http.post(f"/v1/models/{models['hello']}/runs", json={"inputs": {"name": f"r{i}"}},
                            headers={"Prefer": "wait"})

    with ThreadPoolExecutor(8) as pool:
        answers = dict(pool.map(one, range(24)))
    assert {i: (a.status_code, a.json()["status"]) for i, a in answers.items()} == \
        {i: (201, "succeeded") for i in range(24)}
    assert {i: a.json()["outputs"]["greeting"] for i, a in answers.items()} == {i: f"Hello, r{i}!" for i in range(24)}

    # made on one gateway, read on the other: the run and the model's runs listed by each telemetry
    for i, answer in answers.items():
        other = gateways[(i + 1) % 2]
        assert other.get(f"/v1/runs/{answer.json()['id']}").json()["status"] == "succeeded"
    wanted = {a.json()["id"] for a in answers.values()}
    for http in gateways:
        listed: set[str] = set()
        for _ in range(100):
            listed = {r["id"] for r in http.get(f"/v1/models/{models['hello']}/runs", params={"limit": 100}).json()["items"]}
            if wanted <= listed:
                break
            time.sleep(0.1)
        assert wanted <= listed, f"{http.base_url} lists {len(wanted & listed)} of the {len(wanted)} runs"

    ran = {name: metric(replicated, name, "feather_runs_total") - before[name] for name in before}
    print(f"\nruns ended per executor: {ran}")
    assert sum(ran.values()) == 24 and all(count > 0 for count in ran.values())


def test_killing_an_executor_mid_run_loses_no_run(replicated: LocalPlatform, gateways, models) -> None:
    run_ids = [gateways[i % 2].post(f"/v1/models/{models['slow']}/runs", json={"inputs": {"seconds": 3}}).json()["id"]
               for i in range(8)]
    # both executors are running some of them; the second one dies
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        held = {name: metric(replicated, name, "feather_runs_in_flight") for name in ("executor", "executor-2")}
        if all(count > 0 for count in held.values()):
            break
        time.sleep(0.1)
    assert all(count > 0 for count in held.values()), held
    victim = replicated.procs["executor-2"]
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    print(f"\nkilled executor-2 holding {held['executor-2']:.0f} of the 8 runs ({held})")

    killed_at = time.monotonic()
    runs = ended(gateways[0], run_ids)
    statuses = {run_id: r.get("status") for run_id, r in runs.items()}
    assert set(statuses.values()) == {"succeeded"}, statuses
    assert all(r["outputs"]["done"] == "slept 3s" for r in runs.values())
    # the dead executor's runs were claimed by the other once their leases ran out
    assert "job(s) whose executor stopped renewing them" in replicated.log_path("executor").read_text()
    print(f"all 8 runs succeeded, the last {time.monotonic() - killed_at:.1f}s after the kill (lease {LEASE_S:g}s)")

    replicated.start_service("executor-2")  # back, under the same name, for the tests after this one
    replicated.wait_healthy(60, names=("executor-2",))


def test_killing_a_gateway_with_waiting_requests_fails_them_but_their_runs_complete(
        replicated: LocalPlatform, gateways, models) -> None:
    doomed, survivor = gateways[1], gateways[0]
    keys = [str(uuid.uuid4()) for _ in range(4)]
    body = {"inputs": {"seconds": 3}}

    def wait_on(key: str) -> httpx.Response | Exception:
        try:
            return doomed.post(f"/v1/models/{models['slow']}/runs", json=body,
                               headers={"Prefer": "wait", "Idempotency-Key": key})
        except httpx.HTTPError as exc:
            return exc

    with ThreadPoolExecutor(len(keys)) as pool:
        waiting = [pool.submit(wait_on, key) for key in keys]
        time.sleep(1.5)  # accepted, running, and their callers waiting on gateway-2
        victim = replicated.procs["gateway-2"]
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        outcomes = [f.result() for f in waiting]
    assert all(isinstance(o, httpx.HTTPError) for o in outcomes), outcomes  # each caller sees an error

    # a client retries with its key on the other gateway: the same run, not a new one
    again = [survivor.post(f"/v1/models/{models['slow']}/runs", json=body, headers={"Idempotency-Key": key})
             for key in keys]
    # (202 while the run still runs)
    assert all(a.status_code in (201, 202) and a.headers.get("idempotent-replayed") == "true" for a in again), \
        [(a.status_code, dict(a.headers)) for a in again]
    runs = ended(survivor, [a.json()["id"] for a in again])
    assert {r["status"] for r in runs.values()} == {"succeeded"}, runs
    print(f"\nkilled gateway-2 with {len(keys)} requests waiting: each caller saw "
          f"{type(outcomes[0]).__name__}; all {len(runs)} runs succeeded, read through gateway")
