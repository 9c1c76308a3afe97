"""feather.AsyncClient against the in-process fake, through httpx.ASGITransport."""
from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from feather import FeatherError, InvalidInput, RunFailed
from feather._client import AsyncClient, AsyncJob
from PIL import Image
from sdk_fake_platform import EXAMPLES, TOKEN
from test_sdk_client_files import PICS, noise

Platform = tuple[FastAPI, SimpleNamespace]


@pytest.fixture
async def aclient(platform: Platform) -> AsyncIterator[AsyncClient]:
    async with AsyncClient("http://feather.test", TOKEN,
                           transport=httpx.ASGITransport(platform[0])) as c:
        yield c


@pytest.fixture
async def hello(aclient: AsyncClient) -> str:
    await aclient.publish(str(EXAMPLES / "hello"))
    await aclient.wait_ready("ann/hello", 1, timeout=5)
    return "ann/hello"


async def test_run_and_get(aclient: AsyncClient, platform: Platform, hello: str) -> None:
    run = await aclient.run(hello, name="Ada")
    assert run.outputs == {"greeting": "Hello, Ada!"} and platform[1].runs[run.id]["_prefer"] == "wait=60"
    assert await aclient.get_run(run.id) == run
    assert await aclient.me() == {"username": "ann"}
    assert [m["name"] for m in await aclient.models()] == ["hello"]


async def test_submit_iterate_and_result(aclient: AsyncClient, platform: Platform,
                                         hello: str) -> None:
    platform[1].mode, platform[1].polls = "async", 3
    job = await aclient.submit(hello, name="Bo")
    assert isinstance(job, AsyncJob) and job.run.status == "queued"
    seen = [(s.status, (s.progress or {}).get("fraction")) async for s in job]
    assert seen == [("queued", None), ("running", pytest.approx(1 / 3)),
                    ("running", pytest.approx(2 / 3)), ("succeeded", None)]
    assert (await job.result()).outputs == {"greeting": "Hello, Bo!"}
    assert await job.status() == "succeeded"


async def test_cancel(aclient: AsyncClient, platform: Platform, hello: str) -> None:
    platform[1].mode, platform[1].polls = "async", 10**9
    job = await aclient.submit(hello, name="x")
    await job.cancel()
    with pytest.raises(RunFailed, match="canceled"):
        await job.result(timeout=5)
    with pytest.raises(FeatherError) as e:
        await aclient.cancel(job.id)
    assert e.value.status_code == 409


async def test_bad_inputs_never_reach_the_server(aclient: AsyncClient, platform: Platform,
                                                 hello: str) -> None:
    with pytest.raises(InvalidInput) as e:
        await aclient.run(hello, name="x" * 101)
    assert e.value.field == "name"
    assert not [r for r in platform[1].requests if r[1].endswith("/runs")]


async def test_files_and_decoding(aclient: AsyncClient, platform: Platform,
                                  write_app: object) -> None:
    await aclient.publish(write_app(PICS))  # type: ignore[operator]
    await aclient.wait_ready("ann/pics", 1, timeout=5)
    small = await aclient.run("ann/pics", image=Image.new("RGB", (6, 4)), factor=2)
    big = await aclient.run("ann/pics", image=noise(320), factor=8)
    assert platform[1].runs[small.id]["inputs"]["image"]["url"].startswith("data:")
    assert platform[1].runs[big.id]["inputs"]["image"]["url"].startswith("feather:files/")
    image = await big.avalue("image")
    assert isinstance(image, Image.Image) and image.size == (40, 40)
    assert (await small.adecoded())["info"] == {"size": [6, 4], "mode": "RGB"}
    with pytest.raises(FeatherError, match="await run.avalue"):
        small.value("image")
    value = await aclient.upload(b"abc", name="a.txt")
    assert await aclient.download(value) == b"abc"


async def test_runs_delete_openapi_and_build_log(aclient: AsyncClient, platform: Platform) -> None:
    await aclient.publish(str(EXAMPLES / "hello"))
    stream = aclient.stream_build_log("ann/hello", 1)
    text = "".join([chunk async for chunk in stream])
    assert text.startswith("building hello v1\n") and stream.status == "ready"
    assert await aclient.build_log("ann/hello", 1) == (text, "ready")
    made = [(await aclient.run("ann/hello", name=str(i))).id for i in range(3)]
    platform[1].page_max = 1
    assert [r.id for r in await aclient.runs(model="ann/hello")] == made[::-1]
    assert (await aclient.openapi("ann/hello"))["info"]["title"] == "ann/hello"
    await aclient.delete("ann/hello")
    assert await aclient.models() == []


async def test_a_sync_transport_is_refused() -> None:
    with pytest.raises(TypeError, match="async transport"):
        AsyncClient("http://x", "t", transport=httpx.HTTPTransport())  # type: ignore[arg-type]
