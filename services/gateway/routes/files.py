"""Files: upload once, refer to it in inputs as ``feather:files/<id>``, download outputs."""
from __future__ import annotations

import hashlib

from fastapi import APIRouter, Depends, HTTPException, UploadFile
from fastapi.responses import Response

from services.contracts.files import FETCH_LIMIT, SCHEME, blob_key, content_type_of, file_id, new_file_id
from services.kit.blobs import BlobNotFound
from services.kit.runtime import ServiceContext, context

router = APIRouter()


@router.post("/v1/files", status_code=201)
async def upload(file: UploadFile, ctx: ServiceContext = Depends(context)) -> dict:
    data = await file.read(FETCH_LIMIT + 1)
    if len(data) > FETCH_LIMIT:
        raise HTTPException(413, detail=f"file: larger than {FETCH_LIMIT // 2**20} MiB")
    fid = new_file_id(file.filename)
    content_type = file.content_type if file.content_type not in (None, "application/octet-stream") \
        else content_type_of(fid)
    await ctx.blobs.put(blob_key(fid), data, content_type)
    return {"url": SCHEME + fid, "name": fid.split("/", 1)[1], "content_type": content_type,
            "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@router.get("/v1/files/{fid:path}")
async def download(fid: str, ctx: ServiceContext = Depends(context)) -> Response:
    if file_id(SCHEME + fid) is None:
        raise HTTPException(404, detail="no such file")
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
        "Cache-Control": "private, max-age=86400, immutable"})


_SHOWN_INLINE = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "audio/wav",
                 "audio/x-wav", "audio/mpeg", "audio/ogg", "audio/flac", "video/mp4", "text/plain",
                 "text/csv", "application/json", "application/pdf"}
