"""One blob-store test body, run on the local folder store and on S3 served by a moto server.

The S3 stand-in is moto's real HTTP server on loopback, so boto3 goes through its whole stack
(signing, HTTP, XML errors). The test id names the stand-in; ``-s`` shows where it ran.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from services.contracts.blobs import BlobRef
from services.kit.blobs import BlobNotFound, BlobStore, LocalBlobStore, open_blobs
from services.kit.store import SqliteStore

BAD_KEYS = ["../escape", "a/../../b", "/abs/path", "", "a//b", "./a", "a/.", "a\\b", "nul\0byte"]


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)  # port 0: any free one
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(params=["local-folder", "s3-moto-server"])
async def blobs(request: pytest.FixtureRequest, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BlobStore]:
    if request.param == "local-folder":
        store = open_blobs(str(tmp_path / "blobs"))
        stand_in = f"local folder {tmp_path / 'blobs'}"
    else:
        endpoint = request.getfixturevalue("moto_endpoint")
        # Dummy credentials, and nothing from the developer's own AWS setup.
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_CA_BUNDLE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        bucket = f"feather-test-{uuid.uuid4().hex[:8]}"
        store = open_blobs("unused", s3_bucket=bucket, s3_endpoint=endpoint)
        stand_in = f"moto server at {endpoint}, bucket {bucket} (created by start())"
    print(f"\nblob store stand-in: {stand_in}")
    request.node.user_properties.append(("blob_stand_in", stand_in))
    await store.start()
    await store.start()  # starting twice is harmless (the bucket exists the second time)
    yield store
    await store.close()


def ref(key: str, data: bytes, content_type: str = "application/octet-stream") -> BlobRef:
    return BlobRef(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                   content_type=content_type)


async def test_blob_store(blobs: BlobStore) -> None:
    key, data = "bundles/m1/v1.tar.gz", bytes(range(256)) * 64 + b"tail"

    # round trip, with the reference describing the bytes
    assert await blobs.put(key, data, "application/gzip") == ref(key, data, "application/gzip")
    assert await blobs.get(key) == data
    assert await blobs.exists(key)
    assert await blobs.put("logs/empty.txt", b"") == ref("logs/empty.txt", b"")
    assert await blobs.get("logs/empty.txt") == b""

    # overwrite, also by concurrent writers: the result is one whole value, never a mix
    assert await blobs.put(key, b"v2", "text/plain") == ref(key, b"v2", "text/plain")
    assert await blobs.get(key) == b"v2"
    values = [bytes([i]) * (10_000 + i) for i in range(5)]
    await asyncio.gather(*(blobs.put(key, v) for v in values))
    assert await blobs.get(key) in values

    # missing keys
    with pytest.raises(BlobNotFound):
        await blobs.get("bundles/m1/missing")
    with pytest.raises(KeyError):  # BlobNotFound is a KeyError
        await blobs.get("never/there")
    assert not await blobs.exists("bundles/m1/missing")

    # delete, twice
    await blobs.delete(key)
    assert not await blobs.exists(key)
    with pytest.raises(BlobNotFound):
        await blobs.get(key)
    await blobs.delete(key)

    # keys that could escape a folder are refused by every store alike
    for bad in BAD_KEYS:
        with pytest.raises(ValueError):
            await blobs.put(bad, b"x")
        with pytest.raises(ValueError):
            await blobs.get(bad)


async def test_local_store_keeps_everything_inside_its_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = LocalBlobStore(str(root))
    await store.start()
    for bad in BAD_KEYS:
        with pytest.raises(ValueError):
            await store.put(bad, b"x")
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", root / "link")
    with pytest.raises(ValueError):
        await store.put("link/file", b"x")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == []

    await store.put("a/b/c.bin", b"abc")
    assert (root / "a" / "b" / "c.bin").read_bytes() == b"abc"
    assert [p.name for p in (root / "a" / "b").iterdir()] == ["c.bin"]  # no temporary file left


async def test_local_blobs_and_the_sqlite_store_are_readable_by_the_platform_alone(tmp_path):
    blobs = open_blobs(str(tmp_path / "blobs"))
    await blobs.start()
    await blobs.put("files/abc/secret.txt", b"a caller's file")
    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(tmp_path / "blobs") == 0o700 and mode(tmp_path / "blobs" / "files" / "abc") == 0o700
    assert mode(tmp_path / "blobs" / "files" / "abc" / "secret.txt") == 0o600
    store = SqliteStore(str(tmp_path / "gateway.db"))
    await store.start()
    await store.save("users", "ana", {"password": "argon2 hash"}, expected_version=None)
    assert mode(tmp_path / "gateway.db") == 0o600
    assert all(mode(p) == 0o600 for p in tmp_path.glob("gateway.db-*"))
    await store.close()
