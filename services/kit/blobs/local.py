"""Blobs as files under one folder: the embedded platform's BlobStore.

A key maps to a relative path under the root ("bundles/m1/v1.tar.gz"). Writes go to a temporary
file in the target folder and are renamed into place, so a reader sees the old bytes or the new
ones, never a half-written file. The content type is not kept: only ``put`` reports it.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from pathlib import Path, PurePosixPath

from services.contracts.blobs import BlobRef
from services.kit.blobs.port import BlobNotFound, BlobStore


def check_key(key: str) -> str:
    """Refuse keys that could leave the store's folder or mean different things on disk and in S3."""
    parts = key.split("/")
    if (not key or key.startswith("/") or "\\" in key or "\0" in key
            or any(part in ("", ".", "..") for part in parts)):
        raise ValueError(f"invalid blob key {key!r}: use relative a/b/c names without '.', '..' or '//'")
    return key


class LocalBlobStore(BlobStore):
    def __init__(self, root: str) -> None:
        self.root = Path(root).resolve()

    async def start(self) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.root.chmod(0o700)

    def _path(self, key: str) -> Path:
        path = self.root.joinpath(*PurePosixPath(check_key(key)).parts)
        # A symlink inside the root could still point outside it.
        if not path.resolve().is_relative_to(self.root):
            raise ValueError(f"blob key {key!r} resolves outside the store")
        return path

    async def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> BlobRef:
        path = self._path(key)
        await asyncio.to_thread(_write_atomically, path, data)
        return BlobRef(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                       content_type=content_type)

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFound(key) from None

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def delete(self, key: str) -> None:
        try:
            await asyncio.to_thread(self._path(key).unlink)
        except FileNotFoundError:
            pass  # deleting what is not there is not an error, as in S3


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the rename must not land before the bytes do
        # mkstemp makes it owner-only, and so it stays: callers' files are the platform's to read
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
