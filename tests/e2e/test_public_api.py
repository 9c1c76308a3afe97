"""The exploits of the public API's security review, each tried against the real platform and
each refused, while the platform keeps answering everyone else."""
from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import feather
from publishing import published

pytestmark = pytest.mark.e2e
MODELS = Path(__file__).resolve().parent / "models"
FEATHER = str(Path(sys.executable).parent / "feather")  # the CLI installed beside this interpreter


def publish(client: feather.Client, folder: str) -> str:
    return published(client, MODELS / folder / "app.py")


@pytest.fixture(scope="module")
def hostile(client: feather.Client) -> str:
    return publish(client, "hostile")


@pytest.fixture(scope="module")
def files_model(client: feather.Client) -> str:
    return publish(client, "files")


@pytest.fixture(scope="module")
def stranger(platform) -> httpx.Client:
    """Another signed-in user, with an API token."""
    http = httpx.Client(base_url=platform.gateway_url, timeout=60)
    name = "u" + secrets.token_hex(4)
    session = http.post("/v1/auth/signup", json={"username": name, "password": "long enough"}).json()
    token = http.post("/v1/tokens", json={"name": "t"}, headers={"X-CSRF-Token": session["csrf_token"]}).json()
    http.cookies.clear()
    http.headers["Authorization"] = f"Bearer {token['token']}"
    yield http
    http.close()


@pytest.fixture(scope="module")
def anonymous(platform) -> httpx.Client:
    with httpx.Client(base_url=platform.gateway_url, timeout=60) as http:
        yield http


def answered_by_everyone(http: httpx.Client, hello: str) -> None:
    run = http.post(f"/v1/models/{hello}/runs", json={"inputs": {"name": "still here"}}, headers={"Prefer": "wait"})
    assert run.status_code == 201 and run.json()["status"] == "succeeded", run.text


# --- sizes ----------------------------------------------------------------------------------

def test_a_2_mb_choice_is_refused_with_its_limit_and_the_next_run_succeeds(hello, anonymous, http):
    huge = {"chain": True, "inputs": {"name": "x"}, "choices": {"greet": {"name": "x" * (2 * 2**20)}}}
    answer = anonymous.post(f"/v1/models/{hello}/runs", json=huge)
    assert answer.status_code == 413, answer.text
    assert "1 MiB" in answer.json()["detail"][0]["msg"]
    answered_by_everyone(http, hello)


def test_inputs_over_their_limit_are_refused_before_anything_is_written(hello, anonymous, http):
    before = http.get("/v1/runs", params={"model": hello, "limit": 200}).json()["items"]
    answer = anonymous.post(f"/v1/models/{hello}/runs", json={"inputs": {"name": "y" * 700_000}})
    assert answer.status_code == 413 and "512 KiB" in answer.json()["detail"][0]["msg"], answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", "inputs"]
    assert http.get("/v1/runs", params={"model": hello, "limit": 200}).json()["items"] == before


def test_a_body_announced_too_large_is_refused_before_it_is_read(platform):
    with socket.create_connection(("127.0.0.1", platform.ports["gateway"]), timeout=10) as conn:
        conn.sendall(b"POST /v1/files HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                     b"Content-Length: 900000000\r\n\r\n")  # and then never sends it
        head = conn.recv(200)
    assert head.startswith(b"HTTP/1.1 413"), head


def test_a_body_that_lies_about_its_size_is_cut_off_at_the_limit(platform):
    def chunks():
        for _ in range(40):
            yield b"a" * 65536  # 2.5 MiB, sent chunked with no length announced
    answer = httpx.post(f"{platform.gateway_url}/v1/auth/login", content=chunks(),
                        headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and "1 MiB" in answer.text


def test_outputs_over_their_limit_fail_the_run_and_nothing_stalls(hostile, hello, http):
    run = http.post(f"/v1/models/{hostile}/runs", headers={"Prefer": "wait"},
                    json={"step": "huge_output", "inputs": {"megabytes": 2}}).json()
    assert run["status"] == "failed" and "over the limit of 512 KiB" in run["error"], run
    answered_by_everyone(http, hello)


def test_outputs_the_manifest_does_not_declare_are_dropped(hostile, http, tmp_path, platform):
    run = http.post(f"/v1/models/{hostile}/runs", headers={"Prefer": "wait"},
                    json={"step": "undeclared", "inputs": {}}).json()
    assert run["status"] == "succeeded", run
    assert run["outputs"] == {"declared": "the only output the manifest names"}
    saved = subprocess.run([FEATHER, "run", hostile, "--step", "undeclared",
                            "--output-dir", str(tmp_path / "out"), "--url", platform.gateway_url,
                            "--token", platform.admin_token], capture_output=True, text=True, timeout=120)
    assert saved.returncode == 0, saved.stderr
    assert {p.name for p in (tmp_path / "out").iterdir()} <= {"declared", "declared.txt"}


def test_an_output_cannot_name_a_stored_file_the_step_did_not_make(hostile, stranger, http):
    secret = stranger.post("/v1/files", files={"file": ("secret.txt", b"the stranger's", "text/plain")}).json()
    run = http.post(f"/v1/models/{hostile}/runs", headers={"Prefer": "wait"},
                    json={"step": "names_a_file", "inputs": {"url": secret["url"]}}).json()
    assert run["status"] == "failed" and "did not make" in run["error"], run
    fid = secret["url"].removeprefix("feather:files/")
    assert http.get(f"/v1/files/{fid}", params={"run": run["id"]}).status_code == 404


# --- who reads what -------------------------------------------------------------------------

def test_a_users_runs_are_theirs_and_the_owners(hello, stranger, anonymous, http):
    mine = stranger.post(f"/v1/models/{hello}/runs", json={"inputs": {"name": "private"}},
                         headers={"Prefer": "wait"}).json()
    assert "token" not in mine["urls"]["get"]  # a user is known: no token needed
    assert stranger.get(mine["urls"]["get"]).status_code == 200
    assert http.get(mine["urls"]["get"]).status_code == 200  # the model's owner
    assert anonymous.get(mine["urls"]["get"]).status_code == 404  # nobody else, not even knowing the id
    # nor by continuing it: previous_run only for a run the caller may read
    follow = anonymous.post(f"/v1/models/{hello}/runs", json={"previous_run": mine["id"], "inputs": {}})
    assert follow.status_code == 422 and follow.json()["detail"][0]["loc"] == ["body", "previous_run"]


def test_an_anonymous_run_is_read_with_its_token_and_nothing_else(hello, stranger, anonymous):
    run = anonymous.post(f"/v1/models/{hello}/runs", json={"inputs": {"name": "anon"}},
                         headers={"Prefer": "wait"}).json()
    assert anonymous.get(run["urls"]["get"]).json()["outputs"] == run["outputs"]
    assert anonymous.get(f"/v1/runs/{run['id']}").status_code == 404
    assert anonymous.get(f"/v1/runs/{run['id']}", params={"token": "x" * 32}).status_code == 404
    assert stranger.get(f"/v1/runs/{run['id']}").status_code == 404
    token = run["urls"]["get"].split("token=")[1]
    assert anonymous.get(f"/v1/runs/{run['id']}", params={"token": token}).status_code == 200


def test_the_list_of_a_models_runs_is_the_owners_alone(hello, stranger, anonymous, http):
    assert anonymous.get(f"/v1/models/{hello}/runs").status_code == 401
    assert stranger.get(f"/v1/models/{hello}/runs").status_code == 403
    assert http.get(f"/v1/models/{hello}/runs").status_code == 200


def test_files_are_their_uploaders_and_outputs_are_read_through_their_run(files_model, stranger, anonymous, http):
    uploaded = stranger.post("/v1/files", files={"file": ("mine.txt", b"stranger's secret", "text/plain")}).json()
    assert "expires_at" not in uploaded  # a user's upload is kept
    assert stranger.get(uploaded["href"]).content == b"stranger's secret"
    assert anonymous.get(uploaded["href"]).status_code == 404
    # nobody else may send it to a model that would echo it back
    stolen = anonymous.post(f"/v1/models/{files_model}/runs", json={"inputs": {"doc": {"url": uploaded["url"]}}})
    assert stolen.status_code == 422 and "no uploaded file" in stolen.text
    run = stranger.post(f"/v1/models/{files_model}/runs", json={"inputs": {"doc": {"url": uploaded["url"]}}},
                        headers={"Prefer": "wait"}).json()
    assert run["status"] == "succeeded", run
    copy = run["outputs"]["copy"]
    assert stranger.get(copy["href"]).content == b"stranger's secret"
    assert http.get(copy["href"]).content == b"stranger's secret"  # the model's owner, through the run
    assert http.get(run["inputs"]["doc"]["href"]).status_code == 200  # the input too
    fid = copy["url"].removeprefix("feather:files/")
    assert anonymous.get(f"/v1/files/{fid}").status_code == 404  # the id alone reads nothing
    assert anonymous.get(copy["href"]).status_code == 404
    assert anonymous.get(f"/v1/files/{fid}", params={"run": run["id"], "token": "forged"}).status_code == 404


def test_an_anonymous_upload_expires_and_an_anonymous_runs_files_need_its_token(files_model, anonymous):
    uploaded = anonymous.post("/v1/files", files={"file": ("a.txt", b"anonymous", "text/plain")}).json()
    assert uploaded["expires_at"]
    run = anonymous.post(f"/v1/models/{files_model}/runs", json={"inputs": {"doc": {"url": uploaded["url"]}}},
                         headers={"Prefer": "wait"}).json()
    assert run["status"] == "succeeded", run
    assert "token=" in run["outputs"]["copy"]["href"]
    assert anonymous.get(run["outputs"]["copy"]["href"]).content == b"anonymous"
    assert anonymous.get(run["outputs"]["copy"]["href"].split("&token=")[0]).status_code == 404


def test_a_file_input_may_be_given_as_its_url_alone(files_model, stranger, client):
    uploaded = stranger.post("/v1/files", files={"file": ("plain.txt", b"by its url", "text/plain")}).json()
    inline = "data:text/plain;base64," + base64.b64encode(b"inline text").decode()
    for url, content in ((uploaded["url"], b"by its url"), (inline, b"inline text")):
        run = stranger.post(f"/v1/models/{files_model}/runs", json={"inputs": {"doc": url}},
                            headers={"Prefer": "wait"}).json()
        assert run["status"] == "succeeded", run
        assert run["inputs"]["doc"]["url"] == url and run["inputs"]["doc"]["size"] == len(content)
        assert stranger.get(run["outputs"]["copy"]["href"]).content == content
    assert client.run(files_model, doc=inline).value("copy") == b"inline text"
    refused = stranger.post(f"/v1/models/{files_model}/runs", json={"inputs": {"doc": "/etc/passwd"}})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "inputs", "doc"]
    schema = stranger.get(f"/v1/models/{files_model}/openapi.json").json()
    body = schema["paths"][f"/v1/models/{files_model}/runs"]["post"]["requestBody"]["content"]["application/json"]
    doc = body["schema"]["oneOf"][0]["properties"]["inputs"]["properties"]["doc"]
    assert {"type": "string", "format": "uri"}.items() <= doc["anyOf"][0].items()


# --- operators ------------------------------------------------------------------------------

def test_operators_list_parked_records_and_dead_letters_with_the_admin_token(platform, stranger):
    env = {**os.environ, "FEATHER_URL": platform.gateway_url, "FEATHER_TOKEN": platform.admin_token}
    for args in (["outbox", "list", "--json"], ["dlq", "list", "--json"]):
        done = subprocess.run([FEATHER, "admin", *args], capture_output=True, text=True,
                              env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        page = json.loads(done.stdout)
        assert isinstance(page["items"], list) and page.get("unreachable", []) == []
    assert stranger.get("/v1/admin/outbox").status_code == 403  # a user's token is not the admin token
    refused = subprocess.run([FEATHER, "admin", "outbox", "list"], capture_output=True,
                             text=True, env={**env, "FEATHER_TOKEN": "ft_wrong"}, timeout=120)
    assert refused.returncode == 1 and refused.stderr.startswith("error: ") and len(refused.stderr.splitlines()) == 1


def test_every_api_answer_says_where_its_caller_stands(hello, anonymous, http):
    for answer in (anonymous.get("/v1/models"), http.get(f"/v1/models/{hello}"),
                   anonymous.post(f"/v1/models/{hello}/runs", json={"inputs": {}})):
        assert '"address";q=' in answer.headers["ratelimit-policy"], answer.headers
        assert answer.headers["ratelimit"].startswith('"')


def test_the_python_client_reads_an_anonymous_run_with_its_token(hello, platform, monkeypatch):
    monkeypatch.delenv("FEATHER_TOKEN", raising=False)  # a token saved for this URL is for another port
    with feather.Client(platform.gateway_url, token=None) as anonymous:
        assert anonymous.token is None
        run = anonymous.run(hello, name="sdk")
        assert run.status == "succeeded" and run.token
        assert anonymous.get_run(run.id, token=run.token).outputs == run.outputs
        with pytest.raises(feather.FeatherError):
            anonymous.get_run(run.id)
