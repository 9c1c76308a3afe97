"""feather.Client against an in-process fake of the platform API."""
from __future__ import annotations

import json
import socket
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import feather
import httpx
import pytest
from fastapi import FastAPI
from feather import (
    BuildFailed,
    Client,
    FeatherError,
    InvalidInput,
    NotFound,
    RunFailed,
    RunTimedOut,
    Unauthorized,
    _config,
)
from feather._bundle import pack
from sdk_fake_platform import EXAMPLES, TOKEN

Platform = tuple[FastAPI, SimpleNamespace]


@pytest.fixture
def hello(client: Client, platform: Platform) -> str:
    result = client.publish(str(EXAMPLES / "hello"))
    client.wait_ready("ann/hello", result["version"], timeout=5)
    return "ann/hello"


def test_me_sends_the_bearer_token(client: Client, platform: Platform) -> None:
    assert client.me() == {"username": "ann"}
    assert platform[1].requests[-1][2]["authorization"] == f"Bearer {TOKEN}"
    assert platform[1].requests[-1][2]["user-agent"] == f"feather-python/{feather.__version__}"


def test_status_mapping(platform: Platform) -> None:
    with Client("http://feather.test", "wrong", transport=httpx.ASGITransport(platform[0])) as c:
        with pytest.raises(Unauthorized, match="unauthorized: invalid or missing token") as e:
            c.me()
        assert e.value.status_code == 401
    with Client("http://feather.test", TOKEN, transport=httpx.ASGITransport(platform[0])) as c:
        with pytest.raises(NotFound, match="model ann/nope not found"):
            c.model("ann/nope")
        with pytest.raises(NotFound):
            c.get_run("run_404")
        with pytest.raises(InvalidInput, match="owner/name"):
            c.model("just-a-name")


@pytest.mark.parametrize("status,body,kind,message", [
    (403, {"detail": "not your model"}, Unauthorized, "unauthorized: not your model"),
    (500, {"detail": "database is on fire"}, FeatherError, "feather answered 500: database is on fire"),
    (502, "bad gateway text", FeatherError, "feather answered 502: bad gateway text"),
    (409, {"detail": {"code": "conflict"}}, FeatherError, "feather answered 409: {'code': 'conflict'}"),
    (422, {"detail": "inputs must be an object"}, InvalidInput, "invalid input: inputs must be an object"),
])
def test_other_errors_carry_the_server_detail(status: int, body: Any, kind: type,
                                              message: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)
    with Client("http://x", "t", transport=httpx.MockTransport(handler)) as c:
        with pytest.raises(FeatherError) as e:
            c.models()
    assert type(e.value) is kind and str(e.value) == message and e.value.status_code == status


@pytest.mark.parametrize("inputs,field,message", [
    ({"name": 5}, "name", "invalid input: input 'name' must be a string"),
    ({"name": "x" * 101}, "name", "invalid input: input 'name' must have at most 100 characters"),
    ({"name": "a", "nick": "b"}, "nick", "invalid input: unknown input 'nick' for step 'greet'"),
    ({}, "name", "invalid input: input 'name' is required"),
    ({"name": None}, "name", "invalid input: input 'name' is required"),
])
def test_bad_inputs_are_refused_before_sending(client: Client, platform: Platform, hello: str,
                                               inputs: dict[str, Any], field: str,
                                               message: str) -> None:
    with pytest.raises(InvalidInput) as e:
        client.run_with(hello, inputs)
    assert e.value.field == field and str(e.value).startswith(message), str(e.value)
    assert [r for r in platform[1].requests if r[1].endswith("/runs")] == []


def test_the_manifest_is_fetched_once_per_client(client: Client, platform: Platform,
                                                 hello: str) -> None:
    before = len([r for r in platform[1].requests if r[1] == "/v1/models/ann/hello"])
    for name in ("a", "b", "c"):
        client.run(hello, name=name)
    after = len([r for r in platform[1].requests if r[1] == "/v1/models/ann/hello"])
    assert after == before  # wait_ready already fetched it; runs reuse it
    with pytest.raises(InvalidInput, match="unknown step 'nope'") as e:
        client.run(hello, step="nope", name="a")
    assert e.value.field == "step"


HELLO_V2 = """
import feather as ft
model = ft.Model("hello")
@model.step(inputs=[ft.Text("who")], outputs=[ft.Text("greeting")])
def greet(who):
    return f"Hi {who}"
"""


def test_a_stale_manifest_is_fetched_again_before_refusing(client: Client, platform: Platform,
                                                           hello: str, write_app: Any) -> None:
    client.run(hello, name="a")  # the cached manifest has `name`
    with Client("http://feather.test", TOKEN, transport=httpx.ASGITransport(platform[0])) as other:
        other.publish(write_app(HELLO_V2))
        other.wait_ready(hello, 2, timeout=5)
    fetches = [r for r in platform[1].requests if r[1] == "/v1/models/ann/hello"]
    assert client.run(hello, who="b").outputs == {"greeting": "Hi b"}
    again = [r for r in platform[1].requests if r[1] == "/v1/models/ann/hello"]
    assert len(again) == len(fetches) + 1
    runs = len(platform[1].runs)
    with pytest.raises(InvalidInput, match="unknown input 'name'"):
        client.run(hello, name="c")  # a refusal is always confirmed by a current manifest
    assert len([r for r in platform[1].requests if r[1] == "/v1/models/ann/hello"]) == len(again) + 1
    assert len(platform[1].runs) == runs
    # an older version has other inputs: the server, not the newest manifest, judges them
    assert client.run(hello, version=1, name="d").outputs == {"greeting": "Hello, d!"}


def test_server_side_422_names_the_field(platform: Platform, hello: str) -> None:
    with Client("http://feather.test", TOKEN, transport=httpx.ASGITransport(platform[0]),
                validate=False) as c:
        with pytest.raises(InvalidInput) as e:
            c.run(hello, name=5)
    assert e.value.field == "name" and e.value.status_code == 422
    assert str(e.value) == "invalid input: input 'name': 5 is not of type 'string'"


def test_run_finished_within_the_wait(client: Client, platform: Platform, hello: str) -> None:
    run = client.run(hello, name="Ada")
    assert run.status == "succeeded" and run.outputs == {"greeting": "Hello, Ada!"}
    assert (run.model, run.version, run.inputs, run.error) == (hello, 1, {"name": "Ada"}, None)
    assert run.metrics == {"queue_ms": 1.0, "predict_ms": 2.0, "total_ms": 3.5}
    assert run.created_at and run.completed_at and run.id.startswith("run_")
    assert platform[1].runs[run.id]["_prefer"] == "wait=60"
    assert client.get_run(run.id) == run


def test_202_then_poll_until_done(client: Client, platform: Platform, hello: str) -> None:
    platform[1].mode, platform[1].polls = "async", 3
    run = client.run(hello, name="Bo", wait=10)
    assert run.status == "succeeded" and run.outputs == {"greeting": "Hello, Bo!"}
    polls = [r for r in platform[1].requests if r[1] == f"/v1/runs/{run.id}"]
    assert len(polls) == 3


def test_wait_zero_returns_the_queued_run(client: Client, platform: Platform, hello: str) -> None:
    platform[1].mode = "async"
    run = client.run(hello, wait=0, name="Bo")
    assert run.status == "queued"
    assert platform[1].runs[run.id]["_prefer"] is None


def test_local_wait_running_out(client: Client, platform: Platform, hello: str) -> None:
    platform[1].mode, platform[1].polls = "async", 10**9
    with pytest.raises(RunTimedOut, match="did not finish within 0.3s") as e:
        client.run(hello, name="Bo", wait=0.3)
    assert e.value.run.status == "running"


@pytest.mark.parametrize("mode,error,message", [
    ("failed", RunFailed, "ValueError: boom"),
    ("canceled", RunFailed, "the run was canceled"),
    ("timed_out", RunTimedOut, "the run timed out on the server"),
])
def test_terminal_failures(client: Client, platform: Platform, hello: str, mode: str,
                           error: type, message: str) -> None:
    platform[1].mode = mode
    with pytest.raises(error) as e:
        client.run(hello, name="x")
    assert str(e.value) == message and e.value.run.status == mode


def test_run_with_version_and_inputs_named_like_parameters(client: Client, platform: Platform,
                                                           hello: str) -> None:
    run = client.run_with(hello, {"name": "v"}, version=1)
    assert run.outputs == {"greeting": "Hello, v!"}
    with pytest.raises(InvalidInput, match="version"):  # an input, not the parameter
        client.run_with(hello, {"name": "v", "version": 2})


def test_publish_uploads_the_packed_bundle(client: Client, platform: Platform) -> None:
    seen: list[tuple[int, int]] = []
    result = client.publish(str(EXAMPLES / "hello" / "app.py"),
                            progress=lambda sent, total: seen.append((sent, total)))
    assert result == {"owner": "ann", "name": "hello", "version": 1, "status": "building",
                      "url": "/models/ann/hello"}
    assert platform[1].bundles == [pack(EXAMPLES / "hello")]
    assert seen and seen[-1][0] == seen[-1][1]
    assert [s for s, _ in seen] == sorted(s for s, _ in seen)


def test_wait_ready_and_models(client: Client, platform: Platform) -> None:
    client.publish(str(EXAMPLES / "hello"))
    statuses: list[str] = []
    model = client.wait_ready("ann/hello", 1, timeout=5, on_status=statuses.append)
    assert model["versions"][0]["status"] == "ready" and statuses[-1] == "ready"
    assert statuses[0] == "building"
    assert [m["name"] for m in client.models()] == ["hello"]
    assert client.metrics("ann/hello")["latency_ms"] == {"p50": 1.0, "p95": 2.0}
    text, status = client.build_log("ann/hello", 1)
    assert text.startswith("building hello v1\n") and status == "ready"
    assert client.build_log("ann/hello", 1, offset=9) == (text.encode()[9:].decode(), "ready")


def test_wait_ready_build_failed_carries_the_log(client: Client, platform: Platform) -> None:
    platform[1].build = "failed"
    client.publish(str(EXAMPLES / "hello"))
    with pytest.raises(BuildFailed, match="version 1 failed: pip install failed") as e:
        client.wait_ready("ann/hello", 1, timeout=5)
    assert "No matching distribution" in e.value.log


def test_models_follows_cursors() -> None:
    pages = {None: {"items": [{"name": "a"}], "next_cursor": "c2"},
             "c2": {"items": [{"name": "b"}], "next_cursor": None}}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])
    with Client("http://x", "t", transport=httpx.MockTransport(handler)) as c:
        assert [m["name"] for m in c.models()] == ["a", "b"]


def test_unreachable_platform_is_a_clear_error() -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Client(f"http://127.0.0.1:{port}", "t", timeout=5) as c:
        with pytest.raises(FeatherError, match=f"cannot reach feather at http://127.0.0.1:{port}"):
            c.models()


def test_url_and_token_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEATHER_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.delenv("FEATHER_URL", raising=False)
    monkeypatch.delenv("FEATHER_TOKEN", raising=False)
    assert _config.resolve() == (_config.DEFAULT_URL, None)
    path = _config.save("http://saved:1/", "saved-token")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"url": "http://saved:1/", "token": "saved-token"}
    assert _config.resolve() == ("http://saved:1", "saved-token")
    assert _config.resolve("http://other") == ("http://other", None)  # token stays with its URL
    monkeypatch.setenv("FEATHER_URL", "http://env:2")
    monkeypatch.setenv("FEATHER_TOKEN", "env-token")
    assert _config.resolve() == ("http://env:2", "env-token")
    assert _config.resolve("http://arg", "arg-token") == ("http://arg", "arg-token")
    c = Client()
    assert (c.url, c.token) == ("http://env:2", "env-token")
    c.close()
