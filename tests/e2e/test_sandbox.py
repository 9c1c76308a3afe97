"""Hostile models and hostile packages, through the real builder, executor and bubblewrap: each
attempt ends failed or timed_out (or gets nothing of value) while other models keep answering."""
from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import httpx
import pytest

import feather
from package_index import HOOK_MARK, REFUSALS
from services.local.platform import LocalPlatform
from publishing import published

pytestmark = pytest.mark.e2e
HOSTILE = Path(__file__).resolve().parent / "models" / "hostile" / "app.py"


@pytest.fixture(scope="module")
def hostile(client: feather.Client) -> str:
    return published(client, HOSTILE)


def attack(http: httpx.Client, ref: str, step: str, inputs: dict, deadline_s: float = 60) -> dict:
    answer = http.post(f"/v1/models/{ref}/runs", headers={"Prefer": "wait"},
                       json={"step": step, "inputs": inputs, "deadline_s": deadline_s})
    assert answer.status_code == 201, answer.text
    return answer.json()


def refused(run: dict, *reasons: str) -> None:
    assert run["status"] in ("failed", "timed_out"), run
    assert any(r in (run["error"] or "").lower() for r in reasons), run["error"]


def still_fine(http: httpx.Client, hello: str, platform: LocalPlatform) -> None:
    for name in ("gateway", "executor"):
        assert httpx.get(f"http://127.0.0.1:{platform.ports[name]}/healthz").json()["status"] == "ok"
    run = http.post(f"/v1/models/{hello}/runs", json={"inputs": {"name": "still here"}},
                    headers={"Prefer": "wait"}).json()
    assert run["status"] == "succeeded"


def test_the_executor_reports_its_sandbox(platform):
    sandbox = platform.sandbox()
    assert sandbox["mode"] == "required" and sandbox["ready"] and sandbox["seccomp"]
    assert sandbox["limits"]["mechanism"] in ("cgroup2", "cgroup1", "rlimit")
    print(f"\nsandbox: {json.dumps(sandbox)}")


def test_workers_run_as_an_unprivileged_uid_and_see_only_their_own_things(hostile, http, platform):
    run = attack(http, hostile, "whoami", {})
    assert run["status"] == "succeeded", run
    identity = json.loads(run["outputs"]["identity"])
    assert identity["uid"] != 0 and identity["gid"] != 0 and 0 not in identity["groups"]
    if platform.sandbox()["separate_uid"]:
        assert identity["uid"] == platform.sandbox()["worker_uid"]
    assert "home" not in identity["root"] and not any(n.startswith("sys") for n in identity["root"])
    assert identity["caps"] == {"CapInh": 0, "CapPrm": 0, "CapEff": 0, "CapBnd": 0, "CapAmb": 0}, identity["caps"]
    assert identity["no_new_privs"] == "1" and identity["seccomp"] == "2"  # 2: a filter is in force


@pytest.mark.parametrize("target", ["gateway", "kafka"])
def test_no_network(hostile, hello, http, platform, target):
    run = attack(http, hostile, "connect", {"host": "127.0.0.1", "port": platform.ports[target]})
    refused(run, "unreachable", "refused")
    still_fine(http, hello, platform)


@pytest.mark.parametrize("target", ["store", "other model", "data folder", "init's environment",
                                    "executor's environment", "admin token"])
def test_no_reading_the_platform_or_other_models(hostile, hello, http, platform, target):
    path = {
        "store": str(platform.data_dir / "gateway.db"),
        "other model": str(platform.data_dir / "code" / "local" / "hello" / "1" / "app.py"),
        "data folder": str(platform.data_dir),
        "init's environment": "/proc/1/environ",
        "executor's environment": f"/proc/{platform.procs['executor'].pid}/environ",
        "admin token": str(Path.home() / ".feather" / "config.json"),
    }[target]
    run = attack(http, hostile, "read", {"path": path})
    if target == "init's environment" and run["status"] == "succeeded":
        # without root, the sandbox's init runs as the worker's own uid: it holds the worker's
        # own environment, which the executor builds from scratch
        assert "FEATHER_" not in run["outputs"]["content"], run["outputs"]
    else:
        refused(run, "no such file", "permission denied", "is a directory")
    assert platform.admin_token not in json.dumps(run)
    still_fine(http, hello, platform)


def test_no_store_anywhere_in_sight(hostile, http):
    run = attack(http, hostile, "find", {"pattern": "*.db"})
    assert run["status"] == "succeeded" and json.loads(run["outputs"]["found"]) == [], run


def test_fork_bomb_hits_the_process_limit(hostile, hello, http, platform):
    run = attack(http, hostile, "fork_bomb", {"children": 500})
    refused(run, "resource temporarily unavailable", "crashed")
    still_fine(http, hello, platform)


def test_memory_hog_is_stopped_at_its_limit(hostile, hello, http, platform):
    run = attack(http, hostile, "hog_memory", {"megabytes": 4000})
    refused(run, "memory")
    still_fine(http, hello, platform)


@pytest.mark.parametrize("folder", ["/tmp", "/dev/shm", "/feather/scratch/run/out", "/dev"])
def test_filling_a_writable_folder_stops_at_its_size(hostile, hello, http, platform, folder):
    attack(http, hostile, "suicide", {"how": "SIGKILL"})  # a fresh worker: nothing of earlier fills in memory
    run = attack(http, hostile, "fill", {"folder": folder, "megabytes": 2000})
    refused(run, *(["read-only file system"] if folder == "/dev" else ["no space left"]))
    still_fine(http, hello, platform)


def test_nothing_of_the_host_is_writable(hostile, http, platform):
    code = next((platform.data_dir / "code" / "local" / "hostile").iterdir())
    for path in ["/usr/planted", "/dev/planted", str(code / "planted")]:
        refused(attack(http, hostile, "write", {"path": path}), "read-only file system", "permission denied")
    for host in [platform.data_dir / "planted", HOSTILE.parent / "planted"]:
        # a folder above a mount may be writable inside (without root, the sandbox's own tmpfs
        # holds it), but what is written there never reaches the host
        attack(http, hostile, "write", {"path": str(host)})
        assert not host.exists()


def test_a_run_that_never_returns_times_out(hostile, hello, http, platform):
    run = attack(http, hostile, "hang", {"seconds": 1}, deadline_s=2)
    assert run["status"] == "timed_out" and "deadline" in run["error"]
    still_fine(http, hello, platform)


def test_a_run_that_burns_cpu_in_other_processes_is_stopped_at_its_cpu_budget(hostile, hello, http, platform):
    began = time.monotonic()
    run = attack(http, hostile, "burn", {"threads": 2}, deadline_s=120)
    assert run["status"] == "timed_out" and "cpu time budget" in run["error"].lower(), run
    assert time.monotonic() - began < 100  # the budget (5 s of CPU), not the deadline, stopped it
    still_fine(http, hello, platform)


def test_a_worker_that_kills_itself_fails_the_run_and_the_pool_heals(hostile, hello, http, platform):
    run = attack(http, hostile, "suicide", {"how": "SIGKILL"})
    refused(run, "crashed")
    again = attack(http, hostile, "read", {"path": "/etc/hostname-that-is-not-there"})
    refused(again, "no such file")
    still_fine(http, hello, platform)


@pytest.mark.parametrize("step, inputs", [("spin_after", {}), ("spin_later", {"delay": 3})])
def test_a_thread_left_spinning_after_the_step_gets_its_worker_replaced(hostile, http, step, inputs):
    run = attack(http, hostile, step, inputs)
    assert run["status"] == "succeeded", run
    spinning = run["outputs"]["worker"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(1.0)
        answer = attack(http, hostile, "whoami", {})
        if json.loads(answer["outputs"]["identity"])["worker"] != spinning:
            break
    else:
        pytest.fail("the worker with a spinning thread was still serving runs 30 s later")


def test_no_new_user_namespace_inside(hostile, hello, http, platform):
    run = attack(http, hostile, "new_namespace", {})
    refused(run, "operation not permitted", "unshare refused")
    still_fine(http, hello, platform)


def test_a_caller_cannot_choose_where_a_worker_reads_a_file(hostile, http, platform):
    weights = str(platform.data_dir / "code" / "local" / "hostile")
    private = next(Path(weights).glob("*/weights.bin"))
    secret = private.read_text().strip()
    for path in ["/etc/passwd", str(private), "/feather/scratch/../../etc/passwd"]:
        bare = http.post(f"/v1/models/{hostile}/runs", headers={"Prefer": "wait"},
                         json={"step": "read_input", "inputs": {"doc": {"path": path}}})
        assert bare.status_code == 422 and "url" in bare.text, bare.text
        both = attack(http, hostile, "read_input", {"doc": {"url": "data:text/plain,harmless", "path": path}})
        assert both["status"] == "succeeded" and both["outputs"]["content"] == "harmless", both
        assert secret not in json.dumps(both) and "root:" not in json.dumps(both)


def test_a_choice_cannot_carry_a_path_either(client, http, tmp_path):
    app = tmp_path / "pick-file" / "app.py"
    app.parent.mkdir()
    app.write_text(textwrap.dedent('''
        import feather as ft
        model = ft.Model("pick-file", description="A chain whose second step reads a file.")

        @model.step(inputs=[ft.Text("name")], outputs=[ft.Text("greeting")])
        def first(name: str) -> str:
            return "hi " + name

        @model.step(inputs=[ft.Text("greeting"), ft.File("doc")], outputs=[ft.Text("content")])
        def second(greeting: str, doc) -> str:
            return doc.read_bytes()[:200].decode(errors="replace")
    '''))
    ref = published(client, app)
    body = {"inputs": {"name": "x"}, "chain": True, "choices": {"second": {"doc": {"path": "/etc/passwd"}}}}
    bare = http.post(f"/v1/models/{ref}/runs", headers={"Prefer": "wait"}, json=body)
    assert bare.status_code in (201, 422), bare.text
    assert "root:" not in bare.text
    if bare.status_code == 201:
        assert bare.json()["status"] == "failed", bare.json()
    body["choices"]["second"]["doc"]["url"] = "data:text/plain,chosen"
    both = http.post(f"/v1/models/{ref}/runs", headers={"Prefer": "wait"}, json=body).json()
    assert both["status"] == "succeeded" and both["outputs"]["content"] == "chosen", both
    wrong = http.post(f"/v1/models/{ref}/runs", json={**body, "choices": {"second": {"nope": 1}}})
    assert wrong.status_code == 422 and "nope" in wrong.text
    alone = http.post(f"/v1/models/{ref}/runs", json={"inputs": {"name": "x"}, "choices": {"second": {}}})
    assert alone.status_code == 422 and "chain" in alone.text


def _model_requiring(tmp_path: Path, package: str) -> Path:
    app = tmp_path / package / "app.py"
    app.parent.mkdir()
    module = package.replace("-", "_")
    app.write_text(textwrap.dedent(f'''
        import feather as ft
        model = ft.Model("{package}", description="Needs {package}.", requirements=["{package}==1.0"])

        @model.step(inputs=[ft.Text("text")], outputs=[ft.Text("text")])
        def echo(text: str) -> str:
            import {module}
            return getattr({module}, "GREETING", text)
    '''))
    return app


@pytest.mark.parametrize("package", sorted(REFUSALS))
def test_a_package_that_writes_outside_site_packages_or_plants_a_hook_fails_the_build(
        client, http, platform, tmp_path, package):
    HOOK_MARK.unlink(missing_ok=True)
    answer = client.publish(str(_model_requiring(tmp_path, package)))
    ref = f"{answer['owner']}/{answer['name']}"
    with pytest.raises(feather.BuildFailed) as caught:
        client.wait_ready(ref, answer["version"], timeout=300)
    refusal = next(line for line in caught.value.log.splitlines() if line.startswith("refused:"))
    assert package in refusal and REFUSALS[package] in refusal, caught.value.log
    assert http.post(f"/v1/models/{ref}/runs", json={"inputs": {"text": "x"}}).status_code == 409
    # nothing of it is left on the host, and its start-up hook never ran
    assert not HOOK_MARK.exists()
    assert not [p for p in (platform.data_dir / "envs").glob(".*") if p.is_dir()], "a half-built environment was left"


def test_packages_from_the_test_index_that_follow_the_rules_still_build(client, http, tmp_path):
    ref = published(client, _model_requiring(tmp_path, "feather-test-benign"))
    run = http.post(f"/v1/models/{ref}/runs", json={"inputs": {"text": "x"}}, headers={"Prefer": "wait"}).json()
    assert run["status"] == "succeeded" and run["outputs"]["text"] == "benign", run


def test_outputs_come_back_from_the_sized_output_folder(hostile, http):
    run = attack(http, hostile, "make_file", {})
    assert run["status"] == "succeeded", run
    made = run["outputs"]["made"]
    assert made["name"] == "made.txt" and made["size"] == len(b"made inside the sandbox")
    assert http.get(made["href"]).content == b"made inside the sandbox"  # read through the run


@pytest.mark.parametrize("kind", ["link", "fifo"])
def test_a_planted_link_or_fifo_in_the_output_folder_is_not_followed(hostile, hello, http, platform, kind):
    secret = platform.data_dir / "gateway.db"
    run = attack(http, hostile, "planted_output", {"target": str(secret), "kind": kind}, deadline_s=20)
    assert run["status"] == "failed", run
    assert "SQLite" not in json.dumps(run)
    still_fine(http, hello, platform)


@pytest.mark.parametrize("inputs", [{"depth": 3000, "files": 0}, {"depth": 0, "files": 30000}])
def test_litter_in_the_output_folder_never_jams_the_executor(hostile, hello, http, platform, inputs):
    """More litter runs than the executor has workers: each worker that leaves too much is
    replaced, and every run, its own and everyone else's, still ends."""
    for _ in range(10):
        run = attack(http, hostile, "litter", inputs, deadline_s=30)
        assert run["status"] in ("succeeded", "failed"), run
    still_fine(http, hello, platform)


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("distinct", [False, True])
def test_a_file_named_many_times_is_stored_once_and_outputs_are_capped(hostile, http, platform, distinct):
    blobs = platform.data_dir / "blobs" / "files"
    before = _size(blobs) if blobs.exists() else 0
    run = attack(http, hostile, "sparse_outputs", {"copies": 20, "megabytes": 100, "distinct": distinct})
    grown = (_size(blobs) if blobs.exists() else 0) - before
    if distinct:  # 2000 MB named: more than the output folder holds
        assert run["status"] == "failed" and "larger than the output folder allows" in run["error"], run
    else:
        assert run["status"] == "succeeded", run
        assert len({f["url"] for f in run["outputs"]["files"]}) == 1
    assert grown <= 256 * 2**20, f"the data folder grew by {grown / 2**20:.0f} MB"
