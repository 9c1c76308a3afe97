"""File inputs (path, bytes, PIL, numpy -> data: URL or upload) and file outputs, via the fake."""
from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from feather import Client, FeatherError, InvalidInput
from feather import Run
from PIL import Image
from sdk_fake_platform import TOKEN

Platform = tuple[FastAPI, SimpleNamespace]
LIMIT = 256 * 1024

PICS = '''
import feather as ft
model = ft.Model("pics")
@model.step(inputs=[ft.Image("image"), ft.Number("factor", default=1, integer=True)],
            outputs=[ft.Image("image"), ft.JSON("info")])
def shrink(image, factor):
    w, h = image.size
    return image.resize((max(1, w // factor), max(1, h // factor))), {"size": [w, h], "mode": image.mode}
'''
DOCS = '''
import feather as ft
model = ft.Model("docs")
@model.step(inputs=[ft.File("doc", format="bytes")],
            outputs=[ft.JSON("stats"), ft.File("copy", filename="copy.bin")])
def count(doc):
    return {"size": len(doc), "head": doc[:4].hex()}, doc
'''


@pytest.fixture
def publish(client: Client, write_app: Callable[..., Path]) -> Callable[[str], str]:
    def go(source: str) -> str:
        result = client.publish(write_app(source))
        ref = f"{result['owner']}/{result['name']}"
        client.wait_ready(ref, result["version"], timeout=5)
        return ref
    return go


def sent_inputs(platform: Platform, run: Run) -> dict[str, Any]:
    inputs: dict[str, Any] = platform[1].runs[run.id]["inputs"]
    return inputs


def uploads(platform: Platform) -> list[Any]:
    return [r for r in platform[1].requests if r[:2] == ("POST", "/v1/files")]


def noise(size: int) -> Image.Image:
    """An image whose PNG stays large (random pixels do not compress)."""
    pixels = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def test_small_pil_image_travels_inline_and_comes_back_as_pil(
        client: Client, platform: Platform, publish: Callable[[str], str]) -> None:
    ref = publish(PICS)
    run = client.run(ref, image=Image.new("RGB", (8, 6), "red"), factor=2)
    sent = sent_inputs(platform, run)["image"]
    assert sent["url"].startswith("data:image/png;base64,") and sent["content_type"] == "image/png"
    assert uploads(platform) == []
    assert run.outputs is not None and run.outputs["image"]["url"].startswith("feather:files/")
    image = run.value("image")
    assert isinstance(image, Image.Image) and image.size == (4, 3)
    assert image.getpixel((0, 0)) == (255, 0, 0)
    assert run.decoded() == {"image": run.value("image"), "info": {"size": [8, 6], "mode": "RGB"}}
    downloads = [r for r in platform[1].requests if r[1].startswith("/v1/files/")]
    assert len(downloads) == 1  # decoded twice, downloaded once


@pytest.mark.parametrize("as_str", [True, False])
def test_a_path_is_read_and_named(client: Client, platform: Platform, tmp_path: Path,
                                  publish: Callable[[str], str], as_str: bool) -> None:
    ref = publish(PICS)
    path = tmp_path / "cat.png"
    Image.new("L", (5, 5), 7).save(path)
    run = client.run(ref, image=str(path) if as_str else path)
    sent = sent_inputs(platform, run)["image"]
    assert sent["name"] == "cat.png" and sent["size"] == path.stat().st_size
    assert base64.b64decode(sent["url"].partition(",")[2]) == path.read_bytes()
    assert run.value("info") == {"size": [5, 5], "mode": "L"}


def test_a_large_image_is_uploaded_first(client: Client, platform: Platform,
                                         publish: Callable[[str], str]) -> None:
    ref = publish(PICS)
    big = noise(320)
    run = client.run(ref, image=big, factor=4)
    sent = sent_inputs(platform, run)["image"]
    assert sent["url"].startswith("feather:files/") and sent["size"] > LIMIT
    assert len(uploads(platform)) == 1
    assert run.value("image").size == (80, 80)


def test_numpy_arrays_are_images_for_image_inputs(client: Client, platform: Platform,
                                                  publish: Callable[[str], str]) -> None:
    ref = publish(PICS)
    run = client.run(ref, image=np.zeros((4, 10, 3), dtype=np.uint8))
    assert run.value("info") == {"size": [10, 4], "mode": "RGB"}


@pytest.mark.parametrize("validate", [True, False])  # by the File component, or without one
@pytest.mark.parametrize("size,uploaded", [(LIMIT, False), (LIMIT + 1, True)])
def test_the_inline_limit_is_256_kib(client: Client, platform: Platform,
                                     publish: Callable[[str], str], size: int,
                                     uploaded: bool, validate: bool) -> None:
    ref = publish(DOCS)
    data = b"%PDF-" + bytes(size - 5)
    with Client("http://feather.test", TOKEN, transport=httpx.ASGITransport(platform[0]),
                validate=validate) as c:  # without validation no manifest, so no component
        run = c.run(ref, doc=data)
        assert sent_inputs(platform, run)["doc"]["url"].startswith(
            "feather:files/" if uploaded else "data:")
        assert len(uploads(platform)) == int(uploaded)
        assert run.value("stats") == {"size": size, "head": data[:4].hex()}
        assert run.value("copy") == data  # kind "file": bytes


def test_bad_file_inputs_are_refused_before_sending(client: Client, platform: Platform,
                                                    tmp_path: Path,
                                                    publish: Callable[[str], str]) -> None:
    ref = publish(PICS)
    with pytest.raises(InvalidInput) as e:
        client.run(ref, image=tmp_path / "missing.png")
    assert e.value.field == "image" and "missing.png" in str(e.value)
    with pytest.raises(InvalidInput) as e:
        client.run(ref, image=object())
    assert e.value.field == "image"
    assert uploads(platform) == [] and not [r for r in platform[1].requests if r[1].endswith("/runs")]


def test_without_validation_files_still_convert(platform: Platform,
                                                publish: Callable[[str], str]) -> None:
    ref = publish(PICS)
    platform[1].requests.clear()
    with Client("http://feather.test", TOKEN, transport=httpx.ASGITransport(platform[0]),
                validate=False) as c:
        run = c.run(ref, image=Image.new("RGB", (3, 3)), factor=np.int64(1))
        big = c.run(ref, image=noise(320))
        assert [r for r in platform[1].requests if r[1] == f"/v1/models/{ref}"] == []
        assert run.value("info")["size"] == [3, 3]
        assert isinstance(run.value("image"), Image.Image)  # decoding fetched the kinds
    assert sent_inputs(platform, run)["image"]["url"].startswith("data:image/png")
    assert sent_inputs(platform, big)["image"]["url"].startswith("feather:files/")
    with pytest.raises(FeatherError, match="client is closed"):
        big.value("image")


def test_upload_and_download(client: Client, platform: Platform, tmp_path: Path) -> None:
    value = client.upload(b"hello file", name="notes.txt", content_type="text/plain")
    assert value["url"].startswith("feather:files/") and value["url"].endswith("/notes.txt")
    assert (value["size"], value["content_type"]) == (10, "text/plain")
    assert client.download(value) == b"hello file" == client.download(value["url"])
    path = tmp_path / "data.json"
    path.write_text("{}")
    from_path = client.upload(path)
    assert from_path["name"] == "data.json" and from_path["content_type"] == "application/json"
    assert client.upload(io.BytesIO(b"\x89PNG\r\n\x1a\nxx"))["content_type"] == "image/png"
    inline = "data:text/plain;base64," + base64.b64encode(b"inline").decode()
    count = len(platform[1].requests)
    assert client.download({"url": inline}) == b"inline"
    assert len(platform[1].requests) == count  # decoded locally
    with pytest.raises(InvalidInput, match="cannot upload a object"):
        client.upload(object())


def test_links_to_other_hosts_are_fetched_without_the_token() -> None:
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("authorization")))
        return httpx.Response(200, content=b"bytes")
    with Client("http://feather.test", "tok", transport=httpx.MockTransport(handler)) as c:
        assert c.download("https://elsewhere.example/a.png") == b"bytes"
        assert c.download("http://feather.test/v1/files/x/a.png") == b"bytes"
    assert seen == [("https://elsewhere.example/a.png", None),
                    ("http://feather.test/v1/files/x/a.png", "Bearer tok")]


def test_runs_built_by_hand_decode_inline_files_only() -> None:
    png = io.BytesIO()
    Image.new("RGB", (2, 2)).save(png, format="PNG")
    inline = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()
    run = Run.from_dict({"id": "r", "model": "a/b", "status": "succeeded",
                         "outputs": {"pic": {"url": inline}, "stored": {"url": "feather:files/x/y"}}})
    assert run.value("pic") == png.getvalue()  # no manifest, so no kind: bytes
    with pytest.raises(FeatherError, match="needs a client"):
        run.value("stored")
    with pytest.raises(KeyError, match="no output 'nope'"):
        run.value("nope")
