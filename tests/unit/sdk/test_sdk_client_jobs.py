"""Jobs (submit, iterate, result, cancel), runs listing, delete, multi-step and build logs."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from feather import Client, FeatherError, InvalidInput, NotFound, RunFailed, RunTimedOut
from sdk_fake_platform import EXAMPLES

Platform = tuple[FastAPI, SimpleNamespace]

TWO_STEPS = '''
import feather as ft
model = ft.Model("two")
@model.step(inputs=[ft.Text("text")], outputs=[ft.Text("shout")])
def shout(text):
    return text.upper()
@model.step(inputs=[ft.Text("shout"), ft.Number("times", integer=True, default=2)],
            outputs=[ft.Text("result")])
def repeat(shout, times):
    return " ".join([shout] * times)
'''


@pytest.fixture
def hello(client: Client) -> str:
    client.publish(str(EXAMPLES / "hello"))
    client.wait_ready("ann/hello", 1, timeout=5)
    return "ann/hello"


def test_submit_returns_at_once_and_iterates_until_done(client: Client, platform: Platform,
                                                        hello: str) -> None:
    platform[1].mode, platform[1].polls = "async", 4
    job = client.submit(hello, name="Ada")
    assert job.run.status == "queued" and platform[1].runs[job.id]["_prefer"] is None
    snapshots = list(job)
    assert [s.status for s in snapshots] == ["queued", "running", "running", "running", "succeeded"]
    fractions = [s.progress["fraction"] for s in snapshots if s.progress]
    assert fractions == [0.25, 0.5, 0.75]
    assert snapshots[1].progress == {"fraction": 0.25, "message": "working 1"}
    assert job.result().outputs == {"greeting": "Hello, Ada!"}
    assert job.status() == "succeeded"


def test_iteration_yields_only_changes(client: Client, platform: Platform, hello: str) -> None:
    platform[1].mode, platform[1].polls, platform[1].progress = "async", 5, False
    job = client.submit(hello, name="x")
    assert [s.status for s in job] == ["queued", "running", "succeeded"]
    assert [r[1] for r in platform[1].requests].count(f"/v1/runs/{job.id}") == 5
    assert job.run.status == "succeeded" and list(job) == [job.run]  # ended: one last snapshot


def test_result_timeout_and_failure(client: Client, platform: Platform, hello: str) -> None:
    platform[1].mode, platform[1].polls = "async", 10**9
    job = client.submit(hello, name="x")
    with pytest.raises(RunTimedOut, match=r"did not finish within 0.2s \(status: running\)"):
        job.result(timeout=0.2)
    platform[1].mode = "failed"
    failed = client.submit(hello, name="x")
    with pytest.raises(RunFailed, match="ValueError: boom") as e:
        failed.result()
    assert "Traceback" in (e.value.run.traceback or "")


def test_cancel(client: Client, platform: Platform, hello: str) -> None:
    platform[1].mode, platform[1].polls = "async", 10**9
    job = client.submit(hello, name="x")
    answer = job.cancel()
    assert answer.id == job.id and answer.status in ("queued", "running")
    with pytest.raises(RunFailed, match="canceled by the caller") as e:
        job.result(timeout=5)
    assert e.value.run.status == "canceled"
    with pytest.raises(FeatherError, match="already ended: canceled") as conflict:
        client.cancel(job.id)
    assert conflict.value.status_code == 409
    with pytest.raises(NotFound):
        client.cancel("run_404")


def test_run_polls_after_a_202(client: Client, platform: Platform, hello: str) -> None:
    platform[1].mode, platform[1].polls = "async", 3
    run = client.run(hello, name="Bo", wait=10)
    assert run.status == "succeeded" and run.progress is None
    assert [r[1] for r in platform[1].requests].count(f"/v1/runs/{run.id}") == 3


def test_runs_follow_cursors_newest_first(client: Client, platform: Platform, hello: str) -> None:
    made = [client.run(hello, name=str(i)).id for i in range(5)]
    platform[1].page_max = 2
    platform[1].requests.clear()
    found = client.runs(limit=100)
    assert [r.id for r in found] == made[::-1]
    pages = [r[3] for r in platform[1].requests if r[1] == "/v1/runs"]
    assert [p.get("cursor") for p in pages] == [None, "2", "4"]
    assert [r.id for r in client.runs(model=hello, limit=3)] == made[::-1][:3]
    assert client.runs(model="ann/other") == []
    with pytest.raises(InvalidInput, match="owner/name"):
        client.runs(model="nope")


def test_delete_forgets_the_model(client: Client, platform: Platform, hello: str) -> None:
    client.run(hello, name="x")  # caches the manifest
    assert client.delete(hello) is None
    assert ("DELETE", "/v1/models/ann/hello") in [r[:2] for r in platform[1].requests]
    with pytest.raises(NotFound):
        client.run(hello, name="x")
    with pytest.raises(NotFound):
        client.delete(hello)


def test_openapi(client: Client, hello: str) -> None:
    doc = client.openapi(hello)
    assert doc["openapi"].startswith("3.") and "/v1/models/ann/hello/runs" in doc["paths"]


def test_multi_step_runs(client: Client, platform: Platform,
                         write_app: Callable[..., Path]) -> None:
    client.publish(write_app(TWO_STEPS))
    client.wait_ready("ann/two", 1, timeout=5)
    first = client.run("ann/two", text="hi")
    assert first.step == "shout" and first.outputs == {"shout": "HI"}
    second = client.run("ann/two", previous_run=first.id, times=3)
    assert second.step == "repeat" and second.outputs == {"result": "HI HI HI"}
    direct = client.run("ann/two", step="repeat", shout="yo", times=1)
    assert direct.outputs == {"result": "yo"}
    with pytest.raises(InvalidInput) as e:
        client.run("ann/two", step="repeat", text="x")
    assert e.value.field == "text"
    chain = client.run_chain("ann/two", {"text": "yo"}, {"repeat": {"times": 2}})
    assert chain.outputs == {"result": "YO YO"}
    assert [s["step"] for s in chain.steps or []] == ["shout", "repeat"]
    body = platform[1].runs[chain.id]
    assert body["_chain"] is True and body["_choices"] == {"repeat": {"times": 2}}


def test_build_log_streams_while_building(client: Client, platform: Platform) -> None:
    client.publish(str(EXAMPLES / "hello"))
    stream = client.stream_build_log("ann/hello", 1)
    chunks = list(stream)
    assert chunks == ["building hello v1\n", "résumé: ✓ deps\n", "built in 0.1s\n"]
    assert stream.status == "ready"
    offsets = [r[3].get("offset", "0") for r in platform[1].requests if r[1].endswith("/build-log")]
    assert offsets == ["0", "18", "37"]  # bytes, not characters: é is two, ✓ three


def test_failed_build_log_ends_with_the_error(client: Client, platform: Platform) -> None:
    platform[1].build = "failed"
    client.publish(str(EXAMPLES / "hello"))
    stream = client.stream_build_log("ann/hello", 1)
    assert "".join(stream).endswith("ERROR: No matching distribution\n")
    assert stream.status == "failed"


def test_build_log_chunks_may_split_characters_and_versions_may_lag() -> None:
    answers = [httpx.Response(404, json={"detail": "no version 1"}),
               httpx.Response(200, content=b"caf\xc3", headers={"X-Build-Status": "building"}),
               httpx.Response(200, content=b"\xa9\n", headers={"X-Build-Status": "ready"})]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)
    with Client("http://x", "t", transport=httpx.MockTransport(handler)) as c:
        stream = c.stream_build_log("ann/hello", 1)
        assert "".join(stream) == "café\n" and stream.status == "ready"
    assert answers == []


def test_build_log_stream_gives_up_after_its_timeout() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"", headers={"X-Build-Status": "building"})
    with Client("http://x", "t", transport=httpx.MockTransport(handler)) as c:
        with pytest.raises(FeatherError, match="not ready after 0.3s"):
            list(c.stream_build_log("ann/hello", 1, timeout=0.3))
