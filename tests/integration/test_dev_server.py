"""`feather dev`: one model served from this process, reloaded when its file is saved."""
from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from services.local.dev import create_dev_app

APP = '''import feather as ft

model = ft.Model("greeter", description="dev preview")


@model.step(inputs=[ft.Text("name")], outputs=[ft.Text("greeting")])
def greet(name: str) -> str:
    return "{word}, " + name
'''


def write(path: Path, word: str) -> None:
    path.write_text(APP.replace("{word}", word))


def test_dev_server_runs_the_model_and_reloads_on_save(tmp_path: Path):
    app_file = tmp_path / "greeter" / "app.py"
    app_file.parent.mkdir()
    write(app_file, "Hello")
    with TestClient(create_dev_app(app_file), base_url="http://localhost:8765") as http:
        state = http.get("/v1/dev").json()
        assert state["model"] == "dev/greeter" and state["error"] is None
        model = http.get("/v1/models/dev/greeter").json()
        assert model["status"] == "ready" and model["manifest"]["steps"][0]["name"] == "greet"
        run = http.post("/v1/models/dev/greeter/runs", json={"inputs": {"name": "Ada"}}).json()
        assert run["status"] == "succeeded" and run["outputs"] == {"greeting": "Hello, Ada"}
        assert http.get(f"/v1/runs/{run['id']}").json()["outputs"] == run["outputs"]
        assert http.post("/v1/models/dev/greeter/runs", json={"inputs": {}}).status_code == 422

        time.sleep(0.05)  # a new mtime, even on coarse clocks
        write(app_file, "Howdy")
        deadline = time.monotonic() + 10
        while http.get("/v1/dev").json()["revision"] == state["revision"] and time.monotonic() < deadline:
            time.sleep(0.1)
        again = http.post("/v1/models/dev/greeter/runs", json={"inputs": {"name": "Ada"}}).json()
        assert again["outputs"] == {"greeting": "Howdy, Ada"}

        app_file.write_text("import feather as ft\nmodel = ft.Model('greeter')\n@model.step(outputs=[])\ndef f(): pass\n")
        deadline = time.monotonic() + 10
        while http.get("/v1/dev").json()["error"] is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "app.py" in http.get("/v1/dev").json()["error"]
        # the last good model keeps answering while the file is broken
        assert http.post("/v1/models/dev/greeter/runs", json={"inputs": {"name": "Bo"}}).json()["status"] == "succeeded"


def test_dev_server_answers_only_this_machine_and_not_other_sites(tmp_path: Path):
    app_file = tmp_path / "greeter" / "app.py"
    app_file.parent.mkdir()
    write(app_file, "Hello")
    with TestClient(create_dev_app(app_file), base_url="http://localhost:8765") as http:
        # a page of another site posting a form (no custom header, its own Origin)
        forged = http.post("/v1/dev/publish", data={"x": "1"}, headers={"Origin": "https://evil.example"})
        assert forged.status_code == 403
        assert http.post("/v1/dev/publish", headers={"Origin": "null"}).status_code == 403
        # a name rebound to 127.0.0.1 still arrives with the other site's Host
        assert http.get("/v1/dev", headers={"Host": "evil.example"}).status_code == 421
        same_site = http.post("/v1/models/dev/greeter/runs", json={"inputs": {"name": "Ada"}},
                              headers={"Origin": "http://localhost:8765"})
        assert same_site.status_code == 201
