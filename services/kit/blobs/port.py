"""The blob store port: bundles, build logs and file values live here, events carry a BlobRef."""
from __future__ import annotations

import abc

from services.contracts.blobs import BlobRef


class BlobNotFound(KeyError):
    pass


class BlobStore(abc.ABC):
    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    @abc.abstractmethod
    async def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> BlobRef:
        """Store ``data`` under ``key`` (overwriting) and return its reference."""

    @abc.abstractmethod
    async def get(self, key: str) -> bytes:
        """The bytes under ``key``; raises :class:`BlobNotFound`."""

    @abc.abstractmethod
    async def exists(self, key: str) -> bool: ...

    @abc.abstractmethod
    async def delete(self, key: str) -> None: ...
