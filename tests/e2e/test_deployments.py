"""Deployments end to end: the owner pins the version that serves owner/name, a publish leaves a
pinned deployment where it is, a rollback is one call (API, client or CLI), and owner/name:N runs
exactly version N."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import feather

FEATHER = str(Path(sys.executable).parent / "feather")
APP = '''import feather as ft

model = ft.Model("{name}", description="Says which build it is.")


@model.step(inputs=[ft.Text("name")], outputs=[ft.Text("build")])
def which(name: str) -> str:
    return "{build}"
'''


def publish(client: feather.Client, folder: Path, name: str, build: str) -> int:
    app = folder / build / "app.py"
    app.parent.mkdir()
    app.write_text(APP.format(name=name, build=build))
    answer = client.publish(str(app))
    client.wait_ready(f"{answer['owner']}/{name}", answer["version"], timeout=300)
    return answer["version"]


def served(client: feather.Client, ref: str) -> tuple[str, int]:
    run = client.run(ref, name="x")
    return run.outputs["build"], run.version


def test_pin_publish_and_roll_back(client: feather.Client, http, platform, tmp_path):
    name = "deploy-" + uuid.uuid4().hex[:6]
    owner = http.get("/v1/me").json()["username"]
    ref = f"{owner}/{name}"
    assert [publish(client, tmp_path, name, b) for b in ("first", "second")] == [1, 2]
    assert served(client, ref) == ("second", 2)  # nothing deployed: the newest ready version

    pinned = http.put(f"/v1/models/{ref}/deployment", json={"version": 1, "follow": "pinned"})
    assert pinned.status_code == 200, pinned.text
    assert pinned.json() | {"at": None} == {"version": 1, "follow": "pinned", "deployed": 1, "previous": 2, "at": None}
    assert served(client, ref) == ("first", 1)
    assert http.get(f"/v1/models/{ref}").json()["deployment"]["version"] == 1

    assert publish(client, tmp_path, name, "third") == 3  # a pinned deployment stays where it is
    assert served(client, ref) == ("first", 1)
    assert served(client, f"{ref}:3") == ("third", 3)  # a version named runs exactly that one

    env = {**os.environ, "FEATHER_URL": platform.gateway_url, "FEATHER_TOKEN": platform.admin_token}
    done = subprocess.run([FEATHER, "deploy", ref, "--version", "2"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{ref} serves v2 (was v1); follows pinned"
    assert served(client, ref) == ("second", 2)

    # following the latest: the next version takes over once it is ready
    assert client.deploy(ref, follow="latest")["version"] == 2
    assert publish(client, tmp_path, name, "fourth") == 4
    assert served(client, ref) == ("fourth", 4)

    for bad, status in (({"version": 9}, 404), ({"version": 0}, 422), ({"follow": "sideways"}, 422)):
        answer = http.put(f"/v1/models/{ref}/deployment", json=bad)
        assert answer.status_code == status, (bad, answer.text)
    refused = subprocess.run([FEATHER, "deploy", f"{ref}:x"], capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 1
    assert http.get(f"/v1/models/{ref}").json()["deployment"]["version"] == 4  # the refusals changed nothing
    http.delete(f"/v1/models/{ref}")
