"""The registry's HTTP API. The gateway forwards publish calls here with the caller's identity."""
from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Literal, TypeVar

from fastapi import APIRouter, Depends, Header, HTTPException, Response, UploadFile
from pydantic import BaseModel, Field

from services.contracts.events import ModelDeleted, ModelPublished, ModelUpdated
from services.contracts.versions import version_key
from services.kit.runtime import ServiceContext, context
from services.kit.store import Conflict, Query, retry_on_conflict
from services.registry import domain

router = APIRouter()
T = TypeVar("T")
_UPLOAD_CHUNK = 1024 * 1024


def _invalid(exc: domain.InvalidBundle) -> HTTPException:
    if isinstance(exc, domain.OversizeBundle):
        # the whole message, not only the reason: a 413 is shown to people as it comes
        loc = ["body", "bundle", *([exc.member] if exc.member else [])]
        return HTTPException(413, detail=[{"loc": loc, "msg": str(exc), "type": "too_large"}])
    return HTTPException(422, detail=[{"loc": ["body", *exc.field.split(".")], "msg": exc.reason,
                                       "type": "invalid_bundle"}])


async def _read_upload(upload: UploadFile, limit_mb: int) -> bytes:
    """The uploaded bundle, read a piece at a time and never more than one byte past the limit."""
    limit = limit_mb * 2**20
    chunks: list[bytes] = []
    size = 0
    while size <= limit and (chunk := await upload.read(min(_UPLOAD_CHUNK, limit + 1 - size))):
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise domain.OversizeBundle(f"larger than {limit_mb} MiB")
    return b"".join(chunks)


async def _parse(data: bytes, ctx: ServiceContext) -> domain.Bundle:
    s = ctx.settings
    # on a worker thread: inflating and reading even a bundle within the limits takes a while,
    # and the event loop serves every other request meanwhile
    return await asyncio.to_thread(domain.read_bundle, data, max_bundle_mb=s.max_bundle_mb,
                                   max_unpacked_mb=s.max_bundle_unpacked_mb, max_members=s.max_bundle_members,
                                   max_manifest_kb=s.max_manifest_kb, max_requirements_kb=s.max_requirements_kb)


@router.post("/internal/models", status_code=201)
async def publish(bundle: UploadFile, x_feather_user: str = Header(...),
                  ctx: ServiceContext = Depends(context)) -> dict:
    try:
        data = await _read_upload(bundle, ctx.settings.max_bundle_mb)
        parsed = await _parse(data, ctx)
    except domain.InvalidBundle as exc:
        raise _invalid(exc) from None
    owner, name = x_feather_user, parsed.name
    model_id = f"{owner}/{name}"
    sha = hashlib.sha256(data).hexdigest()

    async def attempt() -> dict:  # optimistic concurrency: two publishes of one model race for a version
        model = await ctx.store.get("models", model_id)
        latest = model["latest_version"] if model else None
        if model and not model.get("deleted") and model.get("latest_sha256") == sha:
            current = await ctx.store.get("versions", version_key(model_id, latest))
            return _answer(owner, name, latest, current["status"] if current else "building", created=False)
        await _within_quotas(ctx, owner, model, latest)
        version = domain.next_version(latest)
        # named by content: a publish that loses the race for this version cannot overwrite
        # the winner's bundle
        ref = await ctx.blobs.put(f"bundles/{owner}/{name}/{sha}.tar.gz", data, "application/gzip")
        event = ModelPublished(model_id=model_id, owner=owner, model_name=name, version=version,
                               description=parsed.manifest.get("description", ""),
                               manifest=parsed.manifest, bundle=ref,
                               requirements=parsed.requirements,
                               python=parsed.manifest.get("python", "3.11"))
        now = datetime.now(timezone.utc).isoformat()
        doc = {**(model or {"owner": owner, "name": name, "created_at": now, "visibility": "public"}),
               "description": event.description, "latest_version": version,
               "latest_sha256": sha, "updated_at": now, "deleted": False}
        await ctx.save("models", model_id, doc, expected_version=model["_v"] if model else None,
                       events=[ctx.outbox(event)])
        await ctx.store.apply("versions", version_key(model_id, version),
                              {}, event_id=f"published:{version}",
                              on_create={"model_id": model_id, "version": version, "status": "building",
                                         "bundle": ref.model_dump(), "manifest": parsed.manifest,
                                         "created_at": now})
        return _answer(owner, name, version, "building", created=True)
    return await _retrying(attempt)


async def _within_quotas(ctx: ServiceContext, owner: str, model: dict | None, latest: int | None) -> None:
    settings = ctx.settings
    if model is None or model.get("deleted"):
        page = await ctx.store.find("models", Query(where={"owner": owner, "deleted": False},
                                                    limit=settings.quota_models + 1))
        if len(page.items) >= settings.quota_models:
            raise HTTPException(403, detail=f"quota: at most {settings.quota_models} models per user; "
                                            "delete one to publish another")
    elif latest is not None and latest >= settings.quota_versions:
        raise HTTPException(403, detail=f"quota: at most {settings.quota_versions} versions of a model")


async def _retrying(attempt: Callable[[], Awaitable[T]]) -> T:
    try:
        return await retry_on_conflict(attempt)
    except Conflict:
        raise HTTPException(409, detail="the model is changing concurrently; try again") from None


def _answer(owner: str, name: str, version: int, status: str, *, created: bool) -> dict:
    return {"owner": owner, "name": name, "version": version, "status": status,
            "created": created, "url": f"/v1/models/{owner}/{name}"}


@router.get("/internal/models/{owner}/{name}")
async def get_model(owner: str, name: str, ctx: ServiceContext = Depends(context)) -> dict:
    model = await ctx.store.get("models", f"{owner}/{name}")
    if model is None or model.get("deleted"):
        raise HTTPException(404, detail=f"no model {owner}/{name}")
    return model


@router.delete("/internal/models/{owner}/{name}", status_code=204)
async def delete_model(owner: str, name: str, x_feather_user: str = Header(...),
                       ctx: ServiceContext = Depends(context)) -> Response:
    model_id = f"{owner}/{name}"
    if x_feather_user != owner:
        raise HTTPException(403, detail=f"only {owner} can delete {model_id}")

    async def attempt() -> Response:
        model = await ctx.store.get("models", model_id)
        if model is None or model.get("deleted"):
            raise HTTPException(404, detail=f"no model {model_id}")
        # a tombstone, not a removal: version numbers keep counting if the name is published again
        await ctx.save("models", model_id, {**model, "deleted": True}, expected_version=model["_v"],
                       events=[ctx.outbox(ModelDeleted(model_id=model_id))])
        return Response(status_code=204)
    return await _retrying(attempt)


class ModelChanges(BaseModel):
    description: str | None = Field(None, max_length=2000)
    visibility: Literal["public", "unlisted", "private"] | None = None


@router.patch("/internal/models/{owner}/{name}")
async def update_model(owner: str, name: str, changes: ModelChanges, x_feather_user: str = Header(...),
                       ctx: ServiceContext = Depends(context)) -> dict:
    model_id = f"{owner}/{name}"
    if x_feather_user != owner:
        raise HTTPException(403, detail=f"only {owner} can change {model_id}")
    body = changes.model_dump(exclude_none=True)

    async def attempt() -> dict:
        model = await ctx.store.get("models", model_id)
        if model is None or model.get("deleted"):
            raise HTTPException(404, detail=f"no model {model_id}")
        doc = {**model, **body}
        event_id = str(uuid.uuid4())
        await ctx.save("models", model_id, doc, expected_version=model["_v"],
                       events=[ctx.outbox(ModelUpdated(model_id=model_id, **body), event_id=event_id)])
        # the event's id goes back with the answer: whoever applies the change at once under
        # that id ignores the event when it arrives, so an older one never undoes a newer one
        return {"id": model_id, "event_id": event_id, **{k: v for k, v in doc.items() if not k.startswith("_")}}
    return await _retrying(attempt)
