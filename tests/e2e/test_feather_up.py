"""`feather up` as a new user runs it: starts everything, publishes the examples, stops on Ctrl-C."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from services.local.platform import free_port

pytestmark = pytest.mark.e2e


def start(tmp: Path, port: int) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "FEATHER_CONFIG_DIR": str(tmp / "config"), "HOME": str(tmp / "home")}
    proc = subprocess.Popen([sys.executable, "-m", "feather._cli", "up", "--free-ports", "--port", str(port),
                             "--data-dir", str(tmp / "data")],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
                            cwd=tmp)
    seen = []
    deadline = time.monotonic() + 300
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if line.startswith("API token"):
            return proc, "".join(seen)
    proc.kill()
    raise AssertionError("feather up did not come up:\n" + "".join(seen))


def children_of(data_dir: Path) -> list[int]:
    """Processes started for this data folder: the services carry it in their environment."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if f"FEATHER_DATA_DIR={data_dir}".encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


def test_up_prints_working_commands_and_stops_cleanly(tmp_path: Path):
    port = free_port()
    proc, banner = start(tmp_path, port)
    try:
        url = f"http://127.0.0.1:{port}"
        assert f"feather is up at {url}" in banner
        curl = next(line.strip() for line in banner.splitlines() if line.strip().startswith("curl "))
        pasted = subprocess.run(curl, shell=True, capture_output=True, text=True, timeout=60)
        assert '"status":"succeeded"' in pasted.stdout and "Hello, World!" in pasted.stdout

        # pasted as printed: `feather run ...`, or the venv's own path to it when not on PATH
        cli_line = next(line.strip() for line in banner.splitlines() if " run local/hello " in line)
        env = {**os.environ, "FEATHER_CONFIG_DIR": str(tmp_path / "config")}
        ran = subprocess.run(cli_line, shell=True, capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr
        assert "Hello, World!" in ran.stdout
        token = re.search(r"(ft_\S+)", banner).group(1)
        assert httpx.get(f"{url}/v1/me", headers={"Authorization": f"Bearer {token}"}).json() == {"username": "local"}
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
    time.sleep(0.5)
    assert not children_of(tmp_path / "data"), "processes left behind after Ctrl-C"

    # a second start reuses the data: same token, same versions, nothing published twice
    proc, banner_again = start(tmp_path, port)
    try:
        assert re.search(r"(ft_\S+)", banner_again).group(1) == token
        hello = httpx.get(f"http://127.0.0.1:{port}/v1/models/local/hello").json()
        assert [v["version"] for v in hello["versions"]] == [1]
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
