"""The registry's use cases: publish a version, change a model, deploy one of its versions,
delete it.

Plain functions of the service's adapters; the HTTP layer (``api.py``) turns their errors into
answers. Each one is a read and a conditional write, tried again when another write to the same
model came first.
"""
from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, TypeVar

from services.contracts.events import ModelDeleted, ModelPublished, ModelUpdated
from services.contracts.models import serving_version
from services.contracts.versions import version_key
from services.kit.runtime import ServiceContext
from services.kit.store import Conflict, Query, retry_on_conflict
from services.registry import domain

T = TypeVar("T")


class Refused(Exception):
    """What the caller asked cannot be done; ``status`` is the HTTP status that says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def parse(ctx: ServiceContext, data: bytes) -> domain.Bundle:
    s = ctx.settings
    # on a worker thread: inflating and reading even a bundle within the limits takes a while,
    # and the event loop serves every other request meanwhile
    return await asyncio.to_thread(domain.read_bundle, data, max_bundle_mb=s.max_bundle_mb,
                                   max_unpacked_mb=s.max_bundle_unpacked_mb, max_members=s.max_bundle_members,
                                   max_manifest_kb=s.max_manifest_kb, max_requirements_kb=s.max_requirements_kb)


async def publish(ctx: ServiceContext, owner: str, data: bytes, bundle: domain.Bundle) -> dict[str, Any]:
    """A new version of ``owner``'s model from ``data`` (the bundle, already parsed as ``bundle``);
    publishing the same bytes as the latest version again changes nothing."""
    name = bundle.name
    model_id = f"{owner}/{name}"
    sha = hashlib.sha256(data).hexdigest()

    async def attempt() -> dict[str, Any]:  # optimistic concurrency: two publishes of one model race for a version
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
                               description=bundle.manifest.get("description", ""),
                               manifest=bundle.manifest, bundle=ref, requirements=bundle.requirements,
                               python=bundle.manifest.get("python", "3.11"))
        now = datetime.now(timezone.utc).isoformat()
        doc = {**(model or {"owner": owner, "name": name, "created_at": now, "visibility": "public"}),
               "description": event.description, "latest_version": version,
               "latest_sha256": sha, "updated_at": now, "deleted": False}
        await ctx.save("models", model_id, doc, expected_version=model["_v"] if model else None,
                       events=[ctx.outbox(event)])
        await ctx.store.apply("versions", version_key(model_id, version),
                              {}, event_id=f"published:{version}",
                              on_create={"model_id": model_id, "version": version, "status": "building",
                                         "bundle": ref.model_dump(), "manifest": bundle.manifest,
                                         "created_at": now})
        return _answer(owner, name, version, "building", created=True)
    return await _retrying(attempt)


async def _within_quotas(ctx: ServiceContext, owner: str, model: dict[str, Any] | None, latest: int | None) -> None:
    settings = ctx.settings
    if model is None or model.get("deleted"):
        page = await ctx.store.find("models", Query(where={"owner": owner, "deleted": False},
                                                    limit=settings.quota_models + 1))
        if len(page.items) >= settings.quota_models:
            raise Refused(403, f"quota: at most {settings.quota_models} models per user; "
                               "delete one to publish another")
    elif latest is not None and latest >= settings.quota_versions:
        raise Refused(403, f"quota: at most {settings.quota_versions} versions of a model")


def _answer(owner: str, name: str, version: int, status: str, *, created: bool) -> dict[str, Any]:
    return {"owner": owner, "name": name, "version": version, "status": status,
            "created": created, "url": f"/v1/models/{owner}/{name}"}


async def _retrying(attempt: Callable[[], Awaitable[T]]) -> T:
    try:
        return await retry_on_conflict(attempt)
    except Conflict:
        raise Refused(409, "the model is changing concurrently; try again") from None


async def deploy(ctx: ServiceContext, user: str, owner: str, name: str, version: int | None,
                 follow: str | None) -> dict[str, Any]:
    """Serve ``version`` of the model when a run names none, and/or change whether a version
    published later takes over once ready (``follow``: latest or pinned)."""
    model_id = f"{owner}/{name}"
    if user != owner:
        raise Refused(403, f"only {owner} can deploy {model_id}")

    async def attempt() -> dict[str, Any]:
        model = await _live_model(ctx, model_id)
        current = model.get("deployment") or {}
        versions = await _versions_of(ctx, model_id)
        ready = [v["version"] for v in versions if v.get("status") == "ready"]
        serving = serving_version(model, max(ready) if ready else None)
        if version is not None:
            found = next((v for v in versions if v["version"] == version), None)
            if found is None or version < model.get("first_live_version", 1):  # from before a delete
                raise Refused(404, f"{model_id} has no version {version}")
            if found.get("status") != "ready":
                raise Refused(409, f"version {version} of {model_id} is {found.get('status', 'not ready')}; "
                                   "deploy a version that is ready")
        deployment = {
            "version": version if version is not None else current.get("version", serving),
            "follow": follow or current.get("follow", "latest"),
            # what "published later" means for follow=latest
            "latest_at_deploy": model["latest_version"] if version is not None else
            current.get("latest_at_deploy", model["latest_version"]),
            "previous": serving if version is not None and version != serving else current.get("previous"),
            "at": datetime.now(timezone.utc).isoformat()}
        event_id = str(uuid.uuid4())
        await ctx.save("models", model_id, {**model, "deployment": deployment}, expected_version=model["_v"],
                       events=[ctx.outbox(ModelUpdated(model_id=model_id, deployment=deployment), event_id=event_id)])
        return {"id": model_id, "event_id": event_id, "deployment": deployment}
    return await _retrying(attempt)


async def _versions_of(ctx: ServiceContext, model_id: str) -> list[dict[str, Any]]:
    found, cursor = [], None
    while True:
        page = await ctx.store.find("versions", Query(where={"model_id": model_id}, limit=500, cursor=cursor))
        found += page.items
        if not (cursor := page.next_cursor):
            return found


async def _live_model(ctx: ServiceContext, model_id: str) -> dict[str, Any]:
    model = await ctx.store.get("models", model_id)
    if model is None or model.get("deleted"):
        raise Refused(404, f"no model {model_id}")
    return model


async def delete(ctx: ServiceContext, user: str, owner: str, name: str) -> None:
    model_id = f"{owner}/{name}"
    if user != owner:
        raise Refused(403, f"only {owner} can delete {model_id}")

    async def attempt() -> None:
        model = await _live_model(ctx, model_id)
        # a tombstone, not a removal: version numbers keep counting if the name is published again
        # nor does a deployment outlive it: what a new publish of the name serves is its own
        await ctx.save("models", model_id, {**model, "deleted": True, "deployment": None,
                                            "first_live_version": (model.get("latest_version") or 0) + 1},
                       expected_version=model["_v"],
                       events=[ctx.outbox(ModelDeleted(model_id=model_id))])
    await _retrying(attempt)


async def update(ctx: ServiceContext, user: str, owner: str, name: str, changes: dict[str, Any]) -> dict[str, Any]:
    """The model with ``changes`` (description, visibility) applied, and the id of the event that says so."""
    model_id = f"{owner}/{name}"
    if user != owner:
        raise Refused(403, f"only {owner} can change {model_id}")

    async def attempt() -> dict[str, Any]:
        model = await _live_model(ctx, model_id)
        doc = {**model, **changes}
        event_id = str(uuid.uuid4())
        await ctx.save("models", model_id, doc, expected_version=model["_v"],
                       events=[ctx.outbox(ModelUpdated(model_id=model_id, **changes), event_id=event_id)])
        # the event's id goes back with the answer: whoever applies the change at once under
        # that id ignores the event when it arrives, so an older one never undoes a newer one
        return {"id": model_id, "event_id": event_id, **{k: v for k, v in doc.items() if not k.startswith("_")}}
    return await _retrying(attempt)
