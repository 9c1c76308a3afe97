"""Sandbox rules that need no bubblewrap: typed settings, fail-closed start, mounts, cgroup files.

The cgroup v2 and v1 mechanisms are exercised here on folders laid out like the kernel's
cgroup filesystems (a stand-in: this machine's kernel decides which one the end-to-end
suite uses, and it says so in its output).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.executor import limits as L
from services.executor.sandbox import Sandbox, SandboxUnavailable, interpreter_mounts_ok
from services.kit.settings import Settings


@pytest.mark.parametrize("name, value", [("sandbox", "auto"), ("sandbox", "requird"), ("runtime_backend", "lamda"),
                                         ("lambda_architecture", "amd64")])
def test_a_typo_in_a_setting_with_fixed_values_is_an_error_at_start(monkeypatch, name, value) -> None:
    monkeypatch.setenv(f"FEATHER_{name.upper()}", value)
    with pytest.raises(ValidationError, match=name):
        Settings()


def test_the_sandbox_is_required_by_default() -> None:
    assert Settings().sandbox == "required"


def test_without_bubblewrap_runs_are_refused_with_the_reason_and_the_fix(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap, no setpriv on this PATH
    sandbox = Sandbox(tmp_path / "sandbox", L.Limits())
    health = sandbox.health()
    assert health["mode"] == "required" and health["ready"] is False
    assert "bubblewrap (bwrap) is not installed" in health["problem"] and "apt-get install bubblewrap" in health["problem"]
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        sandbox.require()


def test_a_missing_seccomp_compiler_is_a_problem_too(tmp_path) -> None:
    if not Path("/usr/bin/bwrap").exists():
        pytest.fail("bubblewrap must be installed for the test suite (make setup installs it)")
    sandbox = Sandbox(tmp_path / "sandbox", L.Limits(), seccomp_python=str(tmp_path / "no-python"))
    assert "seccomp" in sandbox.health()["problem"] and "python3-seccomp" in sandbox.health()["problem"]


def test_off_is_said_out_loud(tmp_path) -> None:
    health = Sandbox(tmp_path / "sandbox", L.Limits(), mode="off").health()
    assert health == {"mode": "off", "warning": "model code runs unsandboxed with the executor's rights"}


def test_mounts_never_reveal_the_platform(tmp_path) -> None:
    data = tmp_path / "data"
    (data / "envs" / "k").mkdir(parents=True)
    forbidden, runtimes = [data], [data / "envs", data / "code"]
    assert interpreter_mounts_ok(str(data / "envs" / "k"), forbidden, runtimes)
    assert interpreter_mounts_ok("/usr/lib/python3.11", forbidden, runtimes)
    for bad in ["/", str(tmp_path), str(data), "relative/path", "//", str(data / ".."), str(data / "blobs"),
                str(data / "envs"), str(data / "sandbox" / "w1-2"), str(data / "envs" / ".." / "gateway.db")]:
        assert not interpreter_mounts_ok(bad, forbidden, runtimes), bad


def test_a_runtime_without_recorded_interpreter_paths_is_refused(tmp_path) -> None:
    data = tmp_path / "data"
    sandbox = Sandbox(tmp_path / "sandbox", L.Limits(), mode="off", forbidden=[data],
                      runtimes=[data / "envs", data / "code"])
    runtime = {"python": str(data / "envs/k/bin/python"), "app_dir": str(data / "code/a")}
    with pytest.raises(SandboxUnavailable, match="publish it again"):
        sandbox.mounts_for(runtime, "/sdk")
    runtime["interpreter"] = {"mounts": ["/"]}
    with pytest.raises(SandboxUnavailable, match="expose the platform"):
        sandbox.mounts_for(runtime, "/sdk")
    runtime["interpreter"] = {"mounts": [str(data / "blobs")]}
    with pytest.raises(SandboxUnavailable, match="expose the platform"):
        sandbox.mounts_for(runtime, "/sdk")
    runtime["interpreter"] = {"mounts": ["/opt/python/bin", "/opt/python/lib/python3.11"]}
    assert sandbox.mounts_for(runtime, "/sdk")[:2] == ["/opt/python/bin", "/opt/python/lib/python3.11"]


def _fake_cgroup2(root: Path, *, controllers: str = "cpu memory pids", procs: str = "") -> Path:
    base = root / "delegated"
    base.mkdir(parents=True)
    (base / "cgroup.controllers").write_text(controllers + "\n")
    (base / "cgroup.subtree_control").write_text("")
    (base / "cgroup.procs").write_text(procs)
    return base


def test_cgroup2_is_used_where_a_delegated_subtree_is_writable(tmp_path, monkeypatch) -> None:
    print("\ncgroup v2: a folder laid out like a delegated cgroup2 group (stand-in for the kernel's)")
    base = _fake_cgroup2(tmp_path)
    found = L._cgroup2_base([(str(tmp_path), "cgroup2", set())], {"": "/delegated"})
    assert found == base and (base / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    control = L.Cgroup2(L.Limits(memory_mb=256, pids=32, cpus=0.5), base)
    control.create("w1")
    group = base / "feather-w1"
    assert (group / "memory.max").read_text() == str(256 * 2**20)
    assert (group / "pids.max").read_text() == "32" and (group / "cpu.max").read_text() == "50000 100000"
    (group / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\n")
    (group / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert control.cpu_seconds("w1", os.getpid()) == 2.5 and control.out_of_memory("w1")
    real = L._remove_group
    monkeypatch.setattr(L, "_remove_group", lambda g, wait_s=2.0: real(g, 0.0))
    control.remove("w1")  # a real group's files go with its last process; these stay
    assert (group / "cgroup.kill").read_text() == "1", "what is left in the group is killed first"


def test_cgroup2_without_the_controllers_is_not_used(tmp_path) -> None:
    _fake_cgroup2(tmp_path, controllers="memory pids")
    assert L._cgroup2_base([(str(tmp_path), "cgroup2", set())], {"": "/delegated"}) is None


@pytest.mark.parametrize("others, moved", [(True, False), (False, True)])
def test_a_cgroup2_group_with_processes_is_split_only_when_they_are_all_ours(tmp_path, monkeypatch,
                                                                              others, moved) -> None:
    base = _fake_cgroup2(tmp_path, procs=f"{os.getpid()}\n" + ("1\n" if others else ""))
    real_write = Path.write_text

    def kernel(self: Path, data: str, *a, **k):
        # the kernel refuses controllers for children while the group itself holds processes
        if self == base / "cgroup.subtree_control" and (base / "cgroup.procs").read_text().strip():
            raise OSError(16, "Device or resource busy")
        if self.name == "cgroup.procs" and self.parent.name == "feather-executor":
            real_write(base / "cgroup.procs", "")  # moving our one process empties the group
        return real_write(self, data, *a, **k)

    monkeypatch.setattr(Path, "write_text", kernel)
    found = L._cgroup2_base([(str(tmp_path), "cgroup2", set())], {"": "/delegated"})
    assert (found == base) is moved
    assert (base / "feather-executor").exists() is moved


def test_cgroup1_needs_memory_and_pids_and_uses_cpu_where_mounted(tmp_path) -> None:
    for name in ("memory", "pids", "cpu,cpuacct"):
        (tmp_path / name).mkdir()
    mounts = [(str(tmp_path / "memory"), "cgroup", {"rw", "memory"}),
              (str(tmp_path / "cpu,cpuacct"), "cgroup", {"rw", "cpu", "cpuacct"})]
    assert L._cgroup1_bases(mounts, {}) is None
    mounts.append((str(tmp_path / "pids"), "cgroup", {"rw", "pids"}))
    bases = L._cgroup1_bases(mounts, {})
    control = L.Cgroup1(L.Limits(memory_mb=128, pids=16, cpus=2), bases)
    assert control.enforced == ["memory", "pids", "cpu"]
    control.create("w2")
    assert (tmp_path / "memory/feather/w2/memory.limit_in_bytes").read_text() == str(128 * 2**20)
    assert (tmp_path / "cpu,cpuacct/feather/w2/cpu.cfs_quota_us").read_text() == "200000"
    (tmp_path / "cpu,cpuacct/feather/w2/cpuacct.usage").write_text("1500000000\n")
    assert control.cpu_seconds("w2", os.getpid()) == 1.5


def test_a_process_trees_cpu_time_counts_its_children() -> None:
    import subprocess
    import sys
    import time
    child = subprocess.Popen([sys.executable, "-c", "import sys, time\nt = time.process_time()\n"
                              "while time.process_time() - t < 0.6: pass\nsys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while L.tree_cpu_seconds(child.pid) < 0.5:
            assert time.monotonic() < deadline, "the child never showed its CPU time"
            time.sleep(0.05)
        assert L.tree_cpu_seconds(os.getpid()) >= L.tree_cpu_seconds(child.pid) >= 0.5
    finally:
        child.communicate(b"")


def test_feather_up_says_at_start_why_no_model_will_run(capsys) -> None:
    from services.local.__main__ import _say_sandbox
    _say_sandbox({"mode": "required", "ready": False, "problem": "bubblewrap (bwrap) is not installed: install it"})
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and "no model will" in said and "bubblewrap (bwrap) is not installed" in said
    _say_sandbox({"mode": "off", "warning": "..."})
    assert "FEATHER_SANDBOX=off" in capsys.readouterr().err
    _say_sandbox({"mode": "required", "ready": True})
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("name", ["worker_idle_grace_s", "worker_run_cpu_s", "worker_memory_mb", "worker_cpus"])
def test_limits_must_be_positive(monkeypatch, name) -> None:
    monkeypatch.setenv(f"FEATHER_{name.upper()}", "0")
    with pytest.raises(ValidationError, match=name):
        Settings()
