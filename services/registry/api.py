"""The registry's HTTP API. The gateway forwards publish calls here, with a token it signed that
names the user it acts for (``services.kit.service_calls``)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response, UploadFile

from services.contracts.models import DeploymentChange, ModelChanges
from services.kit.runtime import ServiceContext, context
from services.registry import domain, services
from services.registry.services import Refused

router = APIRouter()
CALLERS = frozenset({"gateway"})


def acting_for(request: Request) -> str:
    """The user the calling service acts for, as its signed token says."""
    caller = getattr(request.state, "caller", None)
    if caller is None or not caller.user:
        raise HTTPException(401, detail="this call must act for a user, named in the caller's service token")
    return str(caller.user)
_UPLOAD_CHUNK = 1024 * 1024


def _invalid(exc: domain.InvalidBundle) -> HTTPException:
    if isinstance(exc, domain.OversizeBundle):
        # the whole message, not only the reason: a 413 is shown to people as it comes
        loc = ["body", "bundle", *([exc.member] if exc.member else [])]
        return HTTPException(413, detail=[{"loc": loc, "msg": str(exc), "type": "too_large"}])
    return HTTPException(422, detail=[{"loc": ["body", *exc.field.split(".")], "msg": exc.reason,
                                       "type": "invalid_bundle"}])


def _refused(exc: Refused) -> HTTPException:
    return HTTPException(exc.status, detail=exc.reason)


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


@router.post("/internal/models", status_code=201)
async def publish(bundle: UploadFile, user: str = Depends(acting_for),
                  ctx: ServiceContext = Depends(context)) -> dict:
    try:
        data = await _read_upload(bundle, ctx.settings.max_bundle_mb)
        parsed = await services.parse(ctx, data)
    except domain.InvalidBundle as exc:
        raise _invalid(exc) from None
    try:
        return await services.publish(ctx, user, data, parsed)
    except Refused as exc:
        raise _refused(exc) from None


@router.get("/internal/models/{owner}/{name}")
async def get_model(owner: str, name: str, ctx: ServiceContext = Depends(context)) -> dict:
    model = await ctx.store.get("models", f"{owner}/{name}")
    if model is None or model.get("deleted"):
        raise HTTPException(404, detail=f"no model {owner}/{name}")
    return model


@router.delete("/internal/models/{owner}/{name}", status_code=204)
async def delete_model(owner: str, name: str, user: str = Depends(acting_for),
                       ctx: ServiceContext = Depends(context)) -> Response:
    try:
        await services.delete(ctx, user, owner, name)
    except Refused as exc:
        raise _refused(exc) from None
    return Response(status_code=204)


@router.patch("/internal/models/{owner}/{name}")
async def update_model(owner: str, name: str, changes: ModelChanges, user: str = Depends(acting_for),
                       ctx: ServiceContext = Depends(context)) -> dict:
    try:
        return await services.update(ctx, user, owner, name, changes.model_dump(exclude_none=True))
    except Refused as exc:
        raise _refused(exc) from None


@router.put("/internal/models/{owner}/{name}/deployment")
async def deploy(owner: str, name: str, change: DeploymentChange, user: str = Depends(acting_for),
                 ctx: ServiceContext = Depends(context)) -> dict:
    try:
        return await services.deploy(ctx, user, owner, name, change.version, change.follow)
    except Refused as exc:
        raise _refused(exc) from None
