"""Preparing a run's inputs: check every file value and fetch linked files."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from services.contracts.files import (DATA_URL_LIMIT, SCHEME, blob_key, content_type_of,
                                      data_url_bytes, file_id, new_file_id)
from services.gateway.access import upload_usable
from services.kit.addresses import NotPublic, pinned
from services.gateway.bootstrap import GatewayService
from services.gateway.domain import RequestError
from services.kit.body_limit import human_size
from services.kit.runtime import ServiceContext


def _problem(path: list[str], msg: str) -> RequestError:
    return RequestError(422, [{"loc": ["body", *path], "msg": msg, "type": "file"}])


MAX_LINKS = 20  # linked files one run may ask the gateway to fetch


async def resolve_files(gw: GatewayService, inputs: dict[str, Any],
                        choices: dict[str, dict[str, Any]] | None = None, *, user: str | None = None,
                        readable: set[str] = frozenset()) -> dict[str, Any]:
    """Check every file value; copy linked files into the blob store so runs never fetch.

    An uploaded file may be sent by whoever may use it (see ``access.upload_usable``) or, when
    ``readable`` names it, because it came from a run the caller may read.

    All the links of one request share one deadline (``fetch_timeout_s``): a server that
    answers a byte at a time cannot hold the request longer than that.
    """
    ctx = gw.ctx
    found: list[tuple[dict[str, Any], str, list[str]]] = []
    for name, value in inputs.items():
        _collect(value, ["inputs", name], found)
    for step, chosen in (choices or {}).items():
        for name, value in chosen.items():
            _collect(value, ["choices", step, name], found)
    links = sum(1 for _, url, _ in found if url.startswith(("http://", "https://")))
    if links > MAX_LINKS:
        raise RequestError(422, [{"loc": ["body", "inputs"], "type": "file",
                                  "msg": f"{links} linked files; a run may link at most {MAX_LINKS}"}])
    try:
        async with asyncio.timeout(ctx.settings.fetch_timeout_s):
            for value, url, path in found:
                await _resolve_one(gw, value, url, path, user, readable)
    except TimeoutError:
        raise RequestError(422, [{"loc": ["body", "inputs"], "type": "file",
                                  "msg": f"fetching the linked files took over {ctx.settings.fetch_timeout_s:g}s; "
                                         "upload them with POST /v1/files instead"}]) from None
    return inputs


def _collect(value: Any, path: list[str], found: list[tuple[dict[str, Any], str, list[str]]]) -> None:
    if isinstance(value, list):
        for i, item in enumerate(value):
            _collect(item, [*path, str(i)], found)
        return
    if not isinstance(value, dict):
        return
    url = value.get("url")
    if isinstance(url, str):  # (a caller's "path" was dropped before: see domain.as_file_values)
        found.append((value, url, path))
    for key, item in value.items():
        if key != "url" and isinstance(item, (dict, list)):
            _collect(item, [*path, key], found)


async def _resolve_one(gw: GatewayService, value: dict[str, Any], url: str, path: list[str],
                       user: str | None, readable: set[str]) -> None:
    ctx = gw.ctx
    if url.startswith("data:"):
        try:
            data, media_type = data_url_bytes(url)
        except ValueError as exc:
            raise _problem(path, str(exc)) from None
        if len(data) > DATA_URL_LIMIT:
            raise _problem(path, f"inline files are limited to {DATA_URL_LIMIT // 1024} KiB; "
                                 "upload it with POST /v1/files and send the url it returns")
        described = {"size": len(data), "content_type": media_type or "text/plain"}
    elif url.startswith(SCHEME):
        fid = file_id(url)
        record = await ctx.store.get("files", fid) if fid is not None else None
        usable = fid is not None and (fid in readable or upload_usable(record, user))
        if not usable or not await ctx.blobs.exists(blob_key(fid)):
            raise _problem(path, f"no uploaded file {url}")
        described = _described(record)
    elif url.startswith(("http://", "https://")):
        value["url"] = await _fetch(gw, url, value.get("name"), path, user)
        value.setdefault("name", value["url"].rsplit("/", 1)[-1])
        described = _described(await ctx.store.get("files", file_id(value["url"])))
    else:
        raise _problem(path, "a file url must be data:, feather:files/ or http(s)://")
    # what the platform knows of the file, never what the caller says of it: telemetry profiles it
    value.pop("size", None)
    value.pop("content_type", None)
    value.update(described)


def _described(record: dict[str, Any] | None) -> dict[str, Any]:
    # a file a run produced has no record of its own, so nothing is known of it here
    return {"size": record["size"], "content_type": record["content_type"]} if record else {}


async def _fetch(gw: GatewayService, url: str, name: str | None, path: list[str], user: str | None) -> str:
    ctx, http = gw.ctx, gw.http
    # links into this machine or its network are refused, so that the gateway cannot be made to
    # fetch for a caller what only it can reach
    try:
        target, host, extensions = await pinned(url)
    except NotPublic as exc:
        raise _problem(path, f"{exc}; upload the file instead") from None
    except ValueError as exc:
        raise _problem(path, str(exc)) from None
    limit = ctx.settings.max_file_mb * 2**20
    try:
        # redirects are not followed: each hop would need the same address check
        async with http.stream("GET", target, headers=host, extensions=extensions, timeout=30,
                               follow_redirects=False) as answer:
            if answer.is_redirect:
                raise _problem(path, f"{url} redirects; send the final address")
            if answer.status_code >= 400:
                raise _problem(path, f"fetching {url} answered {answer.status_code}")
            data = bytearray()
            async for chunk in answer.aiter_bytes():
                data.extend(chunk)
                if len(data) > limit:
                    raise _problem(path, f"{url} is larger than {human_size(limit)}")
            content_type = answer.headers.get("content-type", "").split(";")[0]
    except httpx.HTTPError as exc:
        raise _problem(path, f"cannot fetch {url}: {exc}") from None
    fid = new_file_id(name or url.split("?")[0].rsplit("/", 1)[-1])
    await store_file(ctx, fid, bytes(data), content_type or content_type_of(fid), user)
    return SCHEME + fid


async def store_file(ctx: ServiceContext, fid: str, data: bytes, content_type: str, user: str | None) -> None:
    """Keep a file a caller sent, and who sent it: it is theirs to use and read again, and an
    anonymous caller's expires."""
    if user is not None:
        usage = await ctx.store.get("usage", user) or {}
        quota = ctx.settings.quota_stored_mb * 2**20
        if usage.get("bytes", 0) + len(data) > quota:
            raise RequestError(413, [{"loc": ["body", "file"], "type": "quota",
                                      "msg": f"quota: your files would take more than {human_size(quota)}"}])
    await ctx.blobs.put(blob_key(fid), data, content_type)
    if user is not None:
        await ctx.store.apply("usage", user, {}, event_id=f"file:{fid}", increments={"bytes": len(data), "files": 1})
    now = datetime.now(timezone.utc)
    expires = None if user else (now + timedelta(hours=ctx.settings.anonymous_file_ttl_h)).isoformat()
    await ctx.store.save("files", fid, {"owner": user, "size": len(data), "content_type": content_type,
                                        "created_at": now.isoformat(), "expires_at": expires,
                                        "anonymous": user is None}, expected_version=None)
