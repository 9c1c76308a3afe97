"""Both ways into the sandbox, on a runtime the real builder made: as root (bubblewrap with real
privileges, then setpriv to the worker uid) and the unprivileged way (a user namespace with
--disable-userns), which an executor that is not root uses; here it runs as root, the only
difference being the uid the worker has on the host. And without a sandbox, no run at all."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
from pathlib import Path

import pytest

from feather._bundle import pack
from services.builder.local_env import LocalEnvironments, unpack_code
from services.executor.backends.local import LocalBackend, PoolConfig
from services.executor.backends.port import StepCall
from services.executor.limits import Limits
from services.executor.sandbox import Sandbox
from services.kit.blobs.local import LocalBlobStore

HOSTILE = Path(__file__).resolve().parents[1] / "e2e" / "models" / "hostile"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def runtime(data: Path) -> dict:
    envs = LocalEnvironments(data, timeout_s=300)
    env = asyncio.run(envs.ensure("hostile-test", "", "", lambda line: None))
    code = unpack_code(pack(str(HOSTILE / "app.py")), data / "code" / "local" / "hostile" / "1")
    return {"backend": "local", "python": str(env.python), "env_dir": str(env.path), "app_dir": str(code),
            "interpreter": env.interpreter}


def _backend(data: Path, name: str, **kw) -> LocalBackend:
    sandbox = Sandbox(data / f"sandbox-{name}", Limits(memory_mb=512, run_cpu_s=5), forbidden=[data],
                      runtimes=[data / "envs", data / "code"], **kw)
    return LocalBackend(LocalBlobStore(str(data / "blobs")), sandbox, PoolConfig())


def _call(runtime: dict, step: str, inputs: dict) -> StepCall:
    return StepCall(f"r-{step}-{os.urandom(4).hex()}", "local/hostile", 1, step, inputs, runtime, 30.0)


@pytest.mark.skipif(os.geteuid() != 0, reason="as root only")
@pytest.mark.parametrize("as_root", [True, False], ids=["root+setpriv", "user namespace"])
async def test_both_ways_in_contain_the_model(data, runtime, as_root) -> None:
    backend = _backend(data, str(as_root), as_root=as_root)
    health = backend.sandbox.health()
    assert health["ready"], health
    print(f"\nsandbox entered as {health['isolation']}: {json.dumps(health['limits'])}")
    listener = socket.create_server(("127.0.0.1", 0))  # a host service the model must not reach
    secret = data / "store.db"
    secret.write_text("the platform's")
    try:
        who = await backend.run(_call(runtime, "whoami", {}))
        assert who.status == "succeeded", who
        identity = json.loads(who.outputs["identity"])
        assert identity["uid"] == (health["worker_uid"] if as_root else 65534)
        for step, inputs, reason in [
            ("connect", {"host": "127.0.0.1", "port": listener.getsockname()[1]}, "refused"),
            ("new_namespace", {}, "operation not permitted"),
            ("read", {"path": str(secret)}, "no such file"),
            ("write", {"path": runtime["app_dir"] + "/planted"}, "read-only file system"),
            ("write", {"path": "/dev/planted"}, "read-only file system"),
            ("burn", {"threads": 1}, "cpu time budget"),
        ]:
            outcome = await backend.run(_call(runtime, step, inputs))
            assert outcome.status in ("failed", "timed_out") and reason in (outcome.error or "").lower(), \
                (step, outcome)
        found = await backend.run(_call(runtime, "find", {"pattern": "*.db"}))
        assert json.loads(found.outputs["found"]) == []
    finally:
        listener.close()
        await backend.close()


async def test_without_a_working_sandbox_no_run_starts_and_the_reason_is_given(data, runtime, tmp_path) -> None:
    backend = _backend(tmp_path, "broken", seccomp_python=str(tmp_path / "missing-python"))
    outcome = await backend.run(_call(runtime, "whoami", {}))
    assert outcome.status == "failed"
    assert outcome.error.startswith("the sandbox cannot run on this host: ") and "python3-seccomp" in outcome.error
    assert not list((tmp_path / "sandbox-broken").iterdir()), "nothing of a worker was made"
    await backend.close()


def test_a_bubblewrap_that_cannot_run_the_probe_leaves_the_sandbox_unavailable(tmp_path, monkeypatch) -> None:
    # a bwrap that answers --help like the real one but fails to set up any sandbox, as on a
    # host whose kernel refuses it: the probe must say so, not report a working sandbox
    real = shutil.which("bwrap")
    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\n[ "$1" = "--help" ] && exec {real} --help\n'
                    'echo "bwrap: setting up uid map: Permission denied" >&2\nexit 1\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    sandbox = Sandbox(tmp_path / "sandbox", Limits(memory_mb=512), forbidden=[tmp_path])
    assert sandbox.problem is not None and "Permission denied" in sandbox.problem
    assert sandbox.health()["ready"] is False
