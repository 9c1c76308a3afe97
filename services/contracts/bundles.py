"""Reading a bundle (a gzipped tar) within its limits: the registry checks one as it is published,
the builder unpacks it; both count the same way, here.

The archive is read as a stream while it inflates. What comes out of the gzip is counted, so a
bundle that unpacks to far more than it uploads stops at the limit whatever its tar headers
claim; the headers' sizes and the number of members are checked before each member is read.
"""
from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Iterable, Iterator

CHUNK = 64 * 1024


class BundleTooLarge(ValueError):
    """Over one of a bundle's limits; ``str()`` says which, in words a publisher can act on."""


def unpacked_over(limit_mb: int) -> BundleTooLarge:
    return BundleTooLarge(f"more than {limit_mb} MiB unpacked")


class Inflating:
    """The tar stream as gzip inflates it, a piece at a time, refused once more than
    ``limit_mb`` has come out."""

    def __init__(self, compressed: bytes, limit_mb: int) -> None:
        self._gzip = gzip.GzipFile(fileobj=io.BytesIO(compressed), mode="rb")
        self._limit_mb = limit_mb
        self._left = limit_mb * 2**20

    def read(self, size: int = -1) -> bytes:
        # short reads are allowed of a stream, and tarfile asks for a record at a time anyway
        chunk = self._gzip.read(CHUNK if size < 0 else min(size, CHUNK))
        self._left -= len(chunk)
        if self._left < 0:
            raise unpacked_over(self._limit_mb)
        return chunk


def within_limits(members: Iterable[tarfile.TarInfo], max_members: int,
                  max_unpacked_mb: int) -> Iterator[tarfile.TarInfo]:
    """The members as they are read, refused past the count or past the size their headers
    add up to (what they really hold is counted by Inflating)."""
    claimed = 0
    for count, member in enumerate(members, 1):
        claimed += member.size
        if count > max_members:
            raise BundleTooLarge(f"more than {max_members} members")
        if claimed > max_unpacked_mb * 2**20:
            raise unpacked_over(max_unpacked_mb)
        yield member
