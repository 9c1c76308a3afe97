"""Blobs in an S3 bucket (AWS, MinIO, or any S3-compatible endpoint).

boto3 is synchronous; each call runs in a worker thread (boto3 clients are thread-safe).
Keys follow the same rules as the local store, so code that works on one works on the other.
"""
from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import boto3
from botocore.exceptions import ClientError

from services.contracts.blobs import BlobRef
from services.kit.blobs.local import check_key
from services.kit.blobs.port import BlobNotFound, BlobStore

MISSING = {"NoSuchKey", "404", "NotFound"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3BlobStore(BlobStore):
    def __init__(self, bucket: str, *, endpoint_url: str | None = None, region: str = "us-east-1",
                 client: Any = None) -> None:
        self.bucket = bucket
        self.region = region
        self._owned = client is None
        self._s3 = client or boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    async def start(self) -> None:
        try:
            await asyncio.to_thread(self._s3.head_bucket, Bucket=self.bucket)
            return
        except ClientError as exc:
            if _code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
                raise
        args: dict[str, Any] = {"Bucket": self.bucket}
        if self.region != "us-east-1":  # us-east-1 refuses an explicit LocationConstraint
            args["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            await asyncio.to_thread(self._s3.create_bucket, **args)
        except ClientError as exc:
            if _code(exc) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise

    async def close(self) -> None:
        if self._owned:
            await asyncio.to_thread(self._s3.close)

    async def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> BlobRef:
        digest = hashlib.sha256(data).hexdigest()
        await asyncio.to_thread(self._s3.put_object, Bucket=self.bucket, Key=check_key(key), Body=data,
                                ContentType=content_type, Metadata={"sha256": digest})
        return BlobRef(key=key, size=len(data), sha256=digest, content_type=content_type)

    async def get(self, key: str) -> bytes:
        check_key(key)

        def read() -> bytes:
            return self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

        try:
            return await asyncio.to_thread(read)
        except ClientError as exc:
            if _code(exc) in MISSING:
                raise BlobNotFound(key) from None
            raise

    async def exists(self, key: str) -> bool:
        try:
            await asyncio.to_thread(self._s3.head_object, Bucket=self.bucket, Key=check_key(key))
        except ClientError as exc:
            if _code(exc) in MISSING:
                return False
            raise
        return True

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._s3.delete_object, Bucket=self.bucket, Key=check_key(key))
