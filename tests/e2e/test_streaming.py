"""A generator step streamed over Server-Sent Events: partial outputs as they are yielded, a
dropped connection resumed with Last-Event-ID, the whole output in the run record, and the
clients iterating the stream."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import feather
import httpx
import pytest
from publishing import published

MODELS = Path(__file__).resolve().parent / "models"
WHOLE = " ".join(str(i) for i in range(1, 21))


@pytest.fixture(scope="module")
def streaming(client: feather.Client) -> str:
    return published(client, MODELS / "stream" / "app.py")


def read_events(http: httpx.Client, url: str, last_id: str | None = None, stop_after: int | None = None) -> list[dict]:
    """Events of the stream at ``url``, until it closes or ``stop_after`` outputs were read."""
    found, event = [], {}
    headers = {"Last-Event-ID": last_id} if last_id else {}
    with http.stream("GET", url, headers=headers, timeout=60) as answer:
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
        for line in answer.iter_lines():
            if not line:
                if event:
                    found.append(event)
                    if stop_after is not None and sum(e["event"] == "output" for e in found) >= stop_after:
                        return found  # the connection drops here
                event = {}
            elif not line.startswith(":"):
                field, _, value = line.partition(": ")
                event[field] = json.loads(value) if field == "data" else value
    return found


def test_partial_outputs_stream_and_a_dropped_connection_resumes(http: httpx.Client, streaming: str):
    run = http.post(f"/v1/models/{streaming}/runs", json={"inputs": {"n": 20}}).json()
    first = read_events(http, run["urls"]["stream"], stop_after=3)
    outputs = [e["data"]["outputs"]["words"] for e in first if e["event"] == "output"]
    assert len(outputs) == 3 and all(WHOLE.startswith(o) for o in outputs) and outputs[-1] != WHOLE
    assert outputs == sorted(outputs, key=len)  # each holds the words so far
    ids = [int(e["id"]) for e in first]
    assert ids == sorted(ids)

    rest = read_events(http, run["urls"]["stream"], last_id=first[-1]["id"])
    assert all(int(e["id"]) > ids[-1] for e in rest)
    kinds = [e["event"] for e in rest]
    assert kinds[-1] == "done" and "error" not in kinds
    assert rest[-1]["data"]["status"] == "succeeded" and rest[-1]["data"]["outputs"] == {"words": WHOLE}
    live = [e["data"]["outputs"]["words"] for e in rest if e["event"] == "output"]
    assert len(live) >= 2 and live[-1] == WHOLE
    assert http.get(run["urls"]["get"]).json()["outputs"] == {"words": WHOLE}

    after_end = read_events(http, run["urls"]["stream"])  # a finished run answers its end at once
    assert [e["event"] for e in after_end][-1] == "done"


def test_the_clients_iterate_a_stream(client: feather.Client, streaming: str, platform):
    events = list(client.stream(streaming, n=8))
    texts = [e.data["outputs"]["words"] for e in events if e.event == "output"]
    assert texts[-1] == "1 2 3 4 5 6 7 8" and len(texts) >= 3
    assert events[-1].event == "done" and events[-1].data["status"] == "succeeded"

    async def from_async() -> list:
        async with feather.AsyncClient(platform.gateway_url, token=platform.admin_token) as aclient:
            return [e async for e in aclient.stream(streaming, n=5)]
    found = asyncio.run(from_async())
    assert found[-1].event == "done" and found[-1].data["outputs"] == {"words": "1 2 3 4 5"}


def test_a_run_of_someone_else_cannot_be_streamed(http: httpx.Client, streaming: str, platform):
    run = http.post(f"/v1/models/{streaming}/runs", json={"inputs": {"n": 1}}).json()
    assert httpx.get(f"{platform.gateway_url}/v1/runs/{run['id']}/stream").status_code == 404


def test_feather_run_prints_text_as_it_arrives(streaming: str, platform):
    env = {**os.environ, "FEATHER_URL": platform.gateway_url, "FEATHER_TOKEN": platform.admin_token}
    cli = subprocess.Popen([str(Path(sys.executable).parent / "feather"), "run", streaming, "-i", "n=12"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    assert cli.stdout is not None
    first = cli.stdout.read(2)  # the first word, well before the run ends
    out, errors = cli.communicate(timeout=120)
    assert cli.returncode == 0, errors
    assert (first + out).strip() == " ".join(str(i) for i in range(1, 13))
    assert "took" in errors
