"""Bundles unpack to plain files inside their folder, with or without tarfile's filters."""
from __future__ import annotations

import io
import tarfile
import tracemalloc

import pytest
from streams import Zeros

from services.builder.local_env import BuildError, unpack_code


def _bundle(*entries: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("filters", ["with filters", "without filters"])
def test_a_bundle_unpacks_and_one_escaping_its_folder_is_refused(filters, tmp_path, monkeypatch):
    if filters == "without filters":  # as on Pythons before 3.11.4
        monkeypatch.delattr(tarfile, "data_filter")
    dest = unpack_code(_bundle(("app.py", b"print('hi')"), ("lib/util.py", b"x = 1")), tmp_path / "code" / "1")
    assert (dest / "app.py").read_bytes() == b"print('hi')" and (dest / "lib" / "util.py").exists()

    with pytest.raises(Exception):
        unpack_code(_bundle(("app.py", b""), ("../escaped.py", b"x")), tmp_path / "code" / "2")
    assert not (tmp_path / "code" / "escaped.py").exists() and not (tmp_path / "code" / "2").exists()


def _bomb(size: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.addfile(tarfile.TarInfo("app.py"), io.BytesIO(b""))
        info = tarfile.TarInfo("weights.bin")
        info.size = size
        tar.addfile(info, Zeros(size))
    return buffer.getvalue()


def _nothing_left(parent):
    return not parent.exists() or not any(parent.iterdir())


@pytest.mark.parametrize("filters", ["with filters", "without filters"])
def test_too_many_members_are_refused(filters, tmp_path, monkeypatch):
    if filters == "without filters":
        monkeypatch.delattr(tarfile, "data_filter")
    data = _bundle(("app.py", b""), *((f"lib/m{i}.py", b"") for i in range(9)))
    assert (unpack_code(data, tmp_path / "ok" / "1", max_members=10) / "lib" / "m8.py").exists()
    with pytest.raises(BuildError, match="more than 9 members"):
        unpack_code(data, tmp_path / "code" / "1", max_members=9)
    assert _nothing_left(tmp_path / "code")


def test_members_over_the_unpacked_limit_are_refused(tmp_path):
    data = _bundle(("app.py", b""), ("a.bin", bytes(600 * 1024)), ("b.bin", bytes(600 * 1024)))
    assert (unpack_code(data, tmp_path / "ok" / "1", max_unpacked_mb=2) / "b.bin").stat().st_size == 600 * 1024
    with pytest.raises(BuildError, match="more than 1 MiB"):
        unpack_code(data, tmp_path / "code" / "1", max_unpacked_mb=1)
    assert _nothing_left(tmp_path / "code")


def test_a_gzip_bomb_is_refused_with_little_memory(tmp_path):
    data = _bomb(64 * 2**20)
    assert len(data) < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(BuildError, match="more than 8 MiB"):
            unpack_code(data, tmp_path / "code" / "1", max_unpacked_mb=8)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20 and _nothing_left(tmp_path / "code")


def test_the_inflated_stream_is_counted_not_only_the_sizes_headers_declare(tmp_path):
    # pax records are tar stream that no member's size counts: forty of 50 KB declare 0 bytes
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(tarfile.TarInfo("app.py"), io.BytesIO(b""))
        for i in range(40):
            info = tarfile.TarInfo(f"empty-{i}")
            info.pax_headers = {"comment": "x" * 50_000}
            tar.addfile(info, io.BytesIO(b""))
    assert (unpack_code(buffer.getvalue(), tmp_path / "ok" / "1") / "empty-39").exists()
    with pytest.raises(BuildError, match="more than 1 MiB"):
        unpack_code(buffer.getvalue(), tmp_path / "code" / "1", max_unpacked_mb=1)
    assert _nothing_left(tmp_path / "code")
