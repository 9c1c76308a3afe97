"""Files: upload once, refer to it in inputs as ``feather:files/<id>``, download outputs."""
from __future__ import annotations

import hashlib

from fastapi import APIRouter, Depends, HTTPException, Query as Q, UploadFile
from fastapi.responses import Response

from services.contracts.files import SCHEME, blob_key, content_type_of, file_id, new_file_id
from services.gateway.access import file_href, may_read_run, run_file_ids, upload_usable
from services.gateway.auth import optional_user
from services.gateway.bootstrap import GatewayService, gateway
from services.gateway.inputs import store_file
from services.gateway.views import model_visible
from services.kit.body_limit import human_size
from services.kit.blobs import BlobNotFound
from services.kit.runtime import ServiceContext, context

router = APIRouter()


@router.post("/v1/files", status_code=201)
async def upload(file: UploadFile, user: str | None = Depends(optional_user),
                 ctx: ServiceContext = Depends(context)) -> dict:
    limit = ctx.settings.max_file_mb * 2**20
    data = await file.read(limit + 1)  # the body limit already stopped anything much larger
    if len(data) > limit:
        raise HTTPException(413, detail=[{"loc": ["body", "file"], "type": "too_large",
                                          "msg": f"the file is larger than {human_size(limit)}"}])
    fid = new_file_id(file.filename)
    content_type = file.content_type if file.content_type not in (None, "application/octet-stream") \
        else content_type_of(fid)
    await store_file(ctx, fid, data, content_type, user)
    answer = {"url": SCHEME + fid, "href": file_href(fid), "name": fid.split("/", 1)[1],
              "content_type": content_type, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if user is None:
        answer["expires_at"] = (await ctx.store.get("files", fid) or {}).get("expires_at")
    return answer


@router.get("/v1/files/{fid:path}")
async def download(fid: str, run: str | None = Q(None, max_length=64, description="a run that holds the file"),
                   token: str | None = Q(None, max_length=100, description="that run's read token"),
                   user: str | None = Depends(optional_user), gw: GatewayService = Depends(gateway)) -> Response:
    """A file, to whoever uploaded it, or through a run that may be read and holds it."""
    ctx = gw.ctx
    if file_id(SCHEME + fid) is None:
        raise HTTPException(404, detail="no such file")
    if run is not None:
        doc = await ctx.store.get("runs", run)
        allowed = doc is not None and may_read_run(doc, user, token, gw.secret) \
            and fid in run_file_ids(doc) and await model_visible(ctx, doc["model_id"], user)
    else:
        allowed = upload_usable(await ctx.store.get("files", fid), user)
    if not allowed:
        raise HTTPException(404, detail="no such file")
    return await file_response(ctx, fid)


async def file_response(ctx: ServiceContext, fid: str) -> Response:
    """The stored file ``fid`` as a download, to a caller already allowed it."""
    try:
        data = await ctx.blobs.get(blob_key(fid))
    except BlobNotFound:
        raise HTTPException(404, detail="no such file") from None
    name = fid.split("/", 1)[1]
    content_type = content_type_of(name)
    # anyone can upload, and files are served from the portal's origin: only media a page can
    # show without running it is inline; everything else (HTML, SVG, scripts) is a download
    inline = content_type in _SHOWN_INLINE
    return Response(data, media_type=content_type if inline else "application/octet-stream", headers={
        "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{name}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=3600, immutable", "Referrer-Policy": "no-referrer"})


_SHOWN_INLINE = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "audio/wav",
                 "audio/x-wav", "audio/mpeg", "audio/ogg", "audio/flac", "video/mp4", "text/plain",
                 "text/csv", "application/json", "application/pdf"}

