"""Bundles: contents, determinism and file checks."""
from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from feather import DefinitionError
from feather._bundle import pack, unpack
from feather._manifest import load_model
from sdk_fake_platform import EXAMPLES

APP = '''
import feather as ft
model = ft.Model("packed", requirements=["numpy>=2"], files=["weights.bin", "data"])
@model.step(inputs=[ft.Text("a")], outputs=[ft.Text("b")])
def f(a):
    return a
'''


def _app(write_app: Callable[..., Path]) -> Path:
    return write_app(APP, **{"weights.bin": "W", "data/b.txt": "B", "data/a.txt": "A",
                             "requirements.txt": "scipy\n", "unlisted.txt": "not packed"})


def test_bundle_contents(write_app: Callable[..., Path]) -> None:
    app = _app(write_app)
    files = unpack(pack(app))
    assert sorted(files) == ["app.py", "data/a.txt", "data/b.txt", "feather.json",
                             "requirements.txt", "weights.bin"]
    assert json.loads(files["feather.json"]) == load_model(app).manifest()
    assert files["app.py"] == app.read_bytes()
    assert files["requirements.txt"] == b"numpy>=2\nscipy\n"
    assert files["weights.bin"] == b"W" and files["data/a.txt"] == b"A"


def test_bundle_is_deterministic(write_app: Callable[..., Path]) -> None:
    app = _app(write_app)
    first = pack(app)
    os.utime(app, (1_000_000, 1_000_000))
    os.utime(app.parent / "weights.bin", (2_000_000, 2_000_000))
    assert pack(app) == first
    with tarfile.open(fileobj=io.BytesIO(first), mode="r:gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in members} == {
        (0, 0, 0, "", "", 0o644)}
    assert gzip.GzipFile(fileobj=io.BytesIO(first)).read()  # a valid gzip stream
    assert first[4:8] == b"\0\0\0\0"  # gzip header mtime is zero


def test_example_bundle(tmp_path: Path) -> None:
    files = unpack(pack(EXAMPLES / "hello"))
    assert sorted(files) == ["app.py", "feather.json", "requirements.txt"]
    assert files["requirements.txt"] == b""


def test_missing_listed_file_names_the_model_line(write_app: Callable[..., Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    app = write_app(APP)
    monkeypatch.chdir(app.parent)
    with pytest.raises(DefinitionError, match=r"^app.py:2: files entry 'weights.bin' does not exist"):
        pack(app)


def test_symlink_escaping_the_folder_is_refused(write_app: Callable[..., Path],
                                                tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("s")
    app = write_app(APP.replace('"weights.bin", "data"', '"link.txt"'))
    (app.parent / "link.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(DefinitionError, match="points outside the app folder"):
        pack(app)
