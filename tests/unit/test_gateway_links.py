"""Linked input files are fetched from the address that passed the public-address check."""
from __future__ import annotations

import asyncio
import socket
from types import SimpleNamespace

import httpx
import pytest

from services.gateway.domain import RequestError
from services.gateway.inputs import _fetch
from services.kit.blobs import open_blobs


def _answers(*addresses: str):
    """A resolver that answers each lookup with the next address: a name being rebound."""
    queue = list(addresses)

    async def getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (queue.pop(0), 0))]
    return getaddrinfo


async def test_the_fetch_connects_to_the_checked_address_even_if_the_name_is_rebound(monkeypatch, tmp_path):
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", _answers("93.184.216.34", "127.0.0.1"))
    seen: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"hello", headers={"content-type": "text/plain"})

    blobs = open_blobs(str(tmp_path / "blobs"))
    await blobs.start()
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as http:
        ctx = SimpleNamespace(state={"http": http}, blobs=blobs)
        url = await _fetch(ctx, "https://files.example.org:8443/a/notes.txt?x=1", None, ["file"])

    request = seen[0]
    assert request.url.host == "93.184.216.34" and request.url.port == 8443
    assert request.url.path == "/a/notes.txt" and request.url.query == b"x=1"
    assert request.headers["host"] == "files.example.org:8443"
    assert request.extensions["sni_hostname"] == "files.example.org"  # TLS checks the name
    assert url.startswith("feather:files/") and url.endswith("/notes.txt")
    assert await blobs.get("files/" + url.removeprefix("feather:files/")) == b"hello"


async def test_a_name_that_resolves_into_the_private_network_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", _answers("10.0.0.7"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200))) as http:
        ctx = SimpleNamespace(state={"http": http}, blobs=None)
        with pytest.raises(RequestError) as refused:
            await _fetch(ctx, "http://intranet.example.org/x.png", None, ["image"])
    assert "not a public address" in str(refused.value.detail)
