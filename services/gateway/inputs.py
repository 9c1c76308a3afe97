"""Preparing a run's inputs: check every file value and fetch linked files."""
from __future__ import annotations

import asyncio
import ipaddress
from typing import Any
from urllib.parse import urlsplit

import httpx

from services.contracts.files import (DATA_URL_LIMIT, FETCH_LIMIT, SCHEME, blob_key, content_type_of,
                                      data_url_size, file_id, new_file_id)
from services.gateway.domain import RequestError
from services.kit.runtime import ServiceContext


def _problem(path: list[str], msg: str) -> RequestError:
    return RequestError(422, [{"loc": ["body", "inputs", *path], "msg": msg, "type": "file"}])


async def resolve_files(ctx: ServiceContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """Check every file value; copy linked files into the blob store so runs never fetch."""
    for name, value in inputs.items():
        await _resolve(ctx, value, [name])
    return inputs


async def _resolve(ctx: ServiceContext, value: Any, path: list[str]) -> None:
    if isinstance(value, list):
        for i, item in enumerate(value):
            await _resolve(ctx, item, [*path, str(i)])
        return
    if not isinstance(value, dict):
        return
    url = value.get("url")
    if isinstance(url, str):  # (a caller's "path" was dropped before: see domain.drop_paths)
        await _resolve_one(ctx, value, url, path)
    for key, item in value.items():
        if key != "url" and isinstance(item, (dict, list)):
            await _resolve(ctx, item, [*path, key])


async def _resolve_one(ctx: ServiceContext, value: dict[str, Any], url: str, path: list[str]) -> None:
    if url.startswith("data:"):
        try:
            size = data_url_size(url)
        except ValueError as exc:
            raise _problem(path, str(exc)) from None
        if size > DATA_URL_LIMIT:
            raise _problem(path, f"inline files are limited to {DATA_URL_LIMIT // 1024} KiB; "
                                 "upload it with POST /v1/files and send the url it returns")
    elif url.startswith(SCHEME):
        fid = file_id(url)
        if fid is None or not await ctx.blobs.exists(blob_key(fid)):
            raise _problem(path, f"no uploaded file {url}")
    elif url.startswith(("http://", "https://")):
        value["url"] = await _fetch(ctx, url, value.get("name"), path)
        value.setdefault("name", value["url"].rsplit("/", 1)[-1])
    else:
        raise _problem(path, "a file url must be data:, feather:files/ or http(s)://")


async def _public_address(url: str, path: list[str]) -> str:
    """The address to fetch ``url`` from, refusing links into this machine or its network (the
    gateway would fetch them for the caller)."""
    host = urlsplit(url).hostname
    if not host:
        raise _problem(path, f"{url} has no host")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError as exc:
        raise _problem(path, f"cannot resolve {host}: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise _problem(path, f"{host} is not a public address; upload the file instead")
    if not infos:
        raise _problem(path, f"cannot resolve {host}")
    return str(infos[0][4][0])


async def _fetch(ctx: ServiceContext, url: str, name: str | None, path: list[str]) -> str:
    http: httpx.AsyncClient = ctx.state["http"]
    address = await _public_address(url, path)
    # connect to the address just checked, not to whatever the name resolves to a moment later
    # (a name can be made to answer a public address first and a private one next); the name
    # still goes in the Host header and in TLS, where the certificate is checked against it
    target = httpx.URL(url)
    pinned = target.copy_with(host=address)
    try:
        # redirects are not followed: each hop would need the same address check
        async with http.stream("GET", pinned, headers={"Host": target.netloc.decode("ascii")},
                               extensions={"sni_hostname": target.host}, timeout=30,
                               follow_redirects=False) as answer:
            if answer.is_redirect:
                raise _problem(path, f"{url} redirects; send the final address")
            if answer.status_code >= 400:
                raise _problem(path, f"fetching {url} answered {answer.status_code}")
            data = bytearray()
            async for chunk in answer.aiter_bytes():
                data.extend(chunk)
                if len(data) > FETCH_LIMIT:
                    raise _problem(path, f"{url} is larger than {FETCH_LIMIT // 2**20} MiB")
            content_type = answer.headers.get("content-type", "").split(";")[0]
    except httpx.HTTPError as exc:
        raise _problem(path, f"cannot fetch {url}: {exc}") from None
    fid = new_file_id(name or url.split("?")[0].rsplit("/", 1)[-1])
    await ctx.blobs.put(blob_key(fid), bytes(data), content_type or content_type_of(fid))
    return SCHEME + fid
