"""One test body for Client and AsyncClient against the in-process fake (httpx.ASGITransport):
every test here runs once with each client, through `Either`, which awaits what needs it."""
from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from feather import AsyncClient, AsyncJob, AsyncRun, Client, FeatherError, InvalidInput, Job, Run, RunFailed
from PIL import Image
from sdk_fake_platform import EXAMPLES, TOKEN
from test_sdk_client_files import PICS, noise

Platform = tuple[FastAPI, SimpleNamespace]


async def _settle(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class Either:
    """A Client or an AsyncClient, called the same way: `await either("run", ref, **inputs)`."""

    def __init__(self, client: Client | AsyncClient) -> None:
        self.client = client
        self.is_async = isinstance(client, AsyncClient)
        self.job_class, self.run_class = (AsyncJob, AsyncRun) if self.is_async else (Job, Run)

    async def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return await self.on(self.client, method, *args, **kwargs)

    async def on(self, target: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        return await _settle(getattr(target, method)(*args, **kwargs))

    async def each(self, iterable: Any) -> list[Any]:
        if hasattr(iterable, "__aiter__"):
            return [item async for item in iterable]
        return list(iterable)


@pytest.fixture(params=["sync", "async"])
async def either(request, platform: Platform) -> AsyncIterator[Either]:
    transport = httpx.ASGITransport(platform[0])
    if request.param == "sync":
        with Client("http://feather.test", TOKEN, transport=transport) as client:
            yield Either(client)
    else:
        async with AsyncClient("http://feather.test", TOKEN, transport=transport) as aclient:
            yield Either(aclient)


@pytest.fixture
async def hello(either: Either) -> str:
    await either("publish", str(EXAMPLES / "hello"))
    await either("wait_ready", "ann/hello", 1, timeout=5)
    return "ann/hello"


async def test_run_and_get(either: Either, platform: Platform, hello: str) -> None:
    run = await either("run", hello, name="Ada")
    assert type(run) is either.run_class
    assert run.outputs == {"greeting": "Hello, Ada!"} and platform[1].runs[run.id]["_prefer"] == "wait=60"
    assert await either("get_run", run.id) == run
    assert await either("me") == {"username": "ann"}
    assert [m["name"] for m in await either("models")] == ["hello"]


async def test_submit_iterate_and_result(either: Either, platform: Platform, hello: str) -> None:
    platform[1].mode, platform[1].polls = "async", 3
    job = await either("submit", hello, name="Bo")
    assert isinstance(job, either.job_class) and job.run.status == "queued"
    seen = [(s.status, (s.progress or {}).get("fraction")) for s in await either.each(job)]
    assert seen == [("queued", None), ("running", pytest.approx(1 / 3)),
                    ("running", pytest.approx(2 / 3)), ("succeeded", None)]
    assert (await either.on(job, "result")).outputs == {"greeting": "Hello, Bo!"}
    assert await either.on(job, "status") == "succeeded"


async def test_cancel(either: Either, platform: Platform, hello: str) -> None:
    platform[1].mode, platform[1].polls = "async", 10**9
    job = await either("submit", hello, name="x")
    await either.on(job, "cancel")
    with pytest.raises(RunFailed, match="canceled"):
        await either.on(job, "result", timeout=5)
    with pytest.raises(FeatherError) as e:
        await either("cancel", job.id)
    assert e.value.status_code == 409


async def test_feedback_on_a_run_and_its_revision(either: Either, platform: Platform, hello: str) -> None:
    run = await either("run", hello, name="Ada")
    first = await either("feedback", run, rating="up", label="greeting")
    again = await either("feedback", run.id, rating=4, comment="fine")
    assert (first["revision"], again["revision"]) == (1, 2) and again["rating"] == 4
    assert platform[1].feedback[run.id]["comment"] == "fine"


async def test_bad_inputs_never_reach_the_server(either: Either, platform: Platform, hello: str) -> None:
    with pytest.raises(InvalidInput) as e:
        await either("run", hello, name="x" * 101)
    assert e.value.field == "name"
    assert not [r for r in platform[1].requests if r[1].endswith("/runs")]


async def test_files_and_decoding(either: Either, platform: Platform, write_app: object) -> None:
    await either("publish", write_app(PICS))  # type: ignore[operator]
    await either("wait_ready", "ann/pics", 1, timeout=5)
    small = await either("run", "ann/pics", image=Image.new("RGB", (6, 4)), factor=2)
    big = await either("run", "ann/pics", image=noise(320), factor=8)
    assert platform[1].runs[small.id]["inputs"]["image"]["url"].startswith("data:")
    assert platform[1].runs[big.id]["inputs"]["image"]["url"].startswith("feather:files/")
    image = await big.avalue("image")  # awaitable whichever client returned the run
    assert isinstance(image, Image.Image) and image.size == (40, 40)
    assert (await small.adecoded())["info"] == {"size": [6, 4], "mode": "RGB"}
    if either.is_async:
        with pytest.raises(FeatherError, match="await run.avalue"):
            small.value("image")
    else:
        assert small.value("info") == {"size": [6, 4], "mode": "RGB"}
    value = await either("upload", b"abc", name="a.txt")
    assert await either("download", value) == b"abc"


async def test_runs_delete_openapi_and_build_log(either: Either, platform: Platform) -> None:
    await either("publish", str(EXAMPLES / "hello"))
    stream = either.client.stream_build_log("ann/hello", 1)
    text = "".join(await either.each(stream))
    assert text.startswith("building hello v1\n") and stream.status == "ready"
    assert await either("build_log", "ann/hello", 1) == (text, "ready")
    made = [(await either("run", "ann/hello", name=str(i))).id for i in range(3)]
    platform[1].page_max = 1
    assert [r.id for r in await either("runs", model="ann/hello")] == made[::-1]
    assert (await either("openapi", "ann/hello"))["info"]["title"] == "ann/hello"
    await either("delete", "ann/hello")
    assert await either("models") == []


async def test_a_sync_transport_is_refused() -> None:
    with pytest.raises(TypeError, match="async transport"):
        AsyncClient("http://x", "t", transport=httpx.HTTPTransport())  # type: ignore[arg-type]
