"""The blob store: the port, its two adapters, and ``open_blobs`` to pick one."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.kit.blobs.local import LocalBlobStore
from services.kit.blobs.port import BlobNotFound, BlobStore

if TYPE_CHECKING:
    from services.kit.blobs.s3 import S3BlobStore

__all__ = ["BlobNotFound", "BlobStore", "LocalBlobStore", "S3BlobStore", "open_blobs"]


def __getattr__(name: str) -> Any:
    # boto3 loads on first use only: it is slow to import and the embedded platform never needs it.
    if name == "S3BlobStore":
        from services.kit.blobs.s3 import S3BlobStore
        return S3BlobStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_blobs(url_or_path: str, *, s3_bucket: str | None = None,
               s3_endpoint: str | None = None) -> BlobStore:
    """S3 when a bucket is given (``url_or_path`` is then unused), else files under ``url_or_path``.

    ``url_or_path`` may be a folder or a ``file://`` URL. The store still needs ``await start()``.
    """
    if s3_bucket:
        from services.kit.blobs.s3 import S3BlobStore

        return S3BlobStore(s3_bucket, endpoint_url=s3_endpoint)
    return LocalBlobStore(url_or_path.removeprefix("file://"))
