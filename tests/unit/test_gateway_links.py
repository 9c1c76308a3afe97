"""Linked input files are fetched from the address that passed the public-address check."""
from __future__ import annotations

import asyncio
import socket
from types import SimpleNamespace

import httpx
import pytest

from services.gateway.domain import RequestError
from services.gateway.inputs import _fetch, resolve_files
from services.kit.addresses import is_public_address
from services.kit.blobs import open_blobs
from services.kit.settings import Settings
from services.kit.store import SqliteStore


async def _context(tmp_path, http, **settings):
    store = SqliteStore(str(tmp_path / "gateway.db"))
    await store.start()
    blobs = open_blobs(str(tmp_path / "blobs"))
    await blobs.start()
    # what the link rules use of a running gateway: its adapters and its HTTP client
    ctx = SimpleNamespace(blobs=blobs, store=store, settings=Settings(data_dir=tmp_path, **settings))
    return SimpleNamespace(ctx=ctx, http=http)


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

    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as http:
        gw = await _context(tmp_path, http)
        url = await _fetch(gw, "https://files.example.org:8443/a/notes.txt?x=1", None, ["file"], None)
    blobs = gw.ctx.blobs

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
        gw = await _context(tmp_path, http)
        with pytest.raises(RequestError) as refused:
            await _fetch(gw, "http://intranet.example.org/x.png", None, ["image"], None)
    assert "not a public address" in str(refused.value.detail)


@pytest.mark.parametrize("address", ["10.0.0.1", "127.0.0.1", "169.254.169.254", "::1", "fe80::1%eth0",
                                     "::ffff:10.0.0.1", "64:ff9b::a00:1", "64:ff9b:1::a00:1",
                                     "2002:a00:1::1", "::10.0.0.1", "2001:0:a00:1::1", "224.0.0.1",
                                     "::ffff:0:7f00:1", "fec0::1", "5f00::1"])
def test_addresses_into_a_private_network_are_not_public(address):
    # NAT64, 6to4, Teredo and the IPv4-compatible form all reach an IPv4 address behind them
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "::ffff:93.184.216.34"])
def test_global_addresses_are_public(address):
    assert is_public_address(address)


async def test_a_server_that_drips_cannot_hold_the_request_past_the_fetch_deadline(monkeypatch, tmp_path):
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", _answers("93.184.216.34"))

    async def drip():
        while True:  # a byte now and then: no single read ever times out
            yield b"x"
            await asyncio.sleep(0.05)

    async def server(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=drip())

    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as http:
        gw = await _context(tmp_path, http, fetch_timeout_s=0.5)
        with pytest.raises(RequestError) as refused:
            await resolve_files(gw, {"doc": {"url": "https://slow.example.org/a.txt"}})
    assert "took over 0.5s" in refused.value.detail[0]["msg"]


async def test_an_anonymous_callers_fetched_file_expires_and_a_users_does_not(monkeypatch, tmp_path):
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", _answers("93.184.216.34", "93.184.216.34"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200, content=b"a"))) as http:
        gw = await _context(tmp_path, http)
        anonymous = await _fetch(gw, "https://example.org/a.txt", None, ["a"], None)
        mine = await _fetch(gw, "https://example.org/b.txt", None, ["b"], "ana")
    kept = await gw.ctx.store.get("files", anonymous.removeprefix("feather:files/"))
    assert kept["owner"] is None and kept["expires_at"] > kept["created_at"]
    kept = await gw.ctx.store.get("files", mine.removeprefix("feather:files/"))
    assert kept["owner"] == "ana" and kept["expires_at"] is None


async def test_a_file_input_carries_the_size_and_type_the_platform_knows_not_the_callers(monkeypatch, tmp_path):
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", _answers("93.184.216.34", "93.184.216.34"))
    answer = httpx.Response(200, content=b"abc", headers={"content-type": "text/csv"})
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: answer)) as http:
        gw = await _context(tmp_path, http)
        uploaded = await _fetch(gw, "https://example.org/first.txt", None, ["a"], "ana")
        inputs = await resolve_files(gw, {
            "linked": {"url": "https://example.org/t.csv", "size": 10**9, "content_type": "image/png"},
            "uploaded": {"url": uploaded, "size": 1},
            "inline": {"url": "data:image/png;base64,AAAA", "content_type": "text/plain"}}, user="ana")
    assert {k: (v["size"], v["content_type"]) for k, v in inputs.items()} == {
        "linked": (3, "text/csv"), "uploaded": (3, "text/csv"), "inline": (3, "image/png")}
