"""Bundles unpack to plain files inside their folder, with or without tarfile's filters."""
from __future__ import annotations

import io
import tarfile

import pytest

from services.builder.local_env import unpack_code


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
