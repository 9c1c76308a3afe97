"""Pack an app folder into the tar.gz that `feather publish` uploads.

The archive is deterministic (sorted names, zero mtimes, fixed owners) so the
same app always packs to the same bytes and can be recognised by its hash.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import tarfile

from ._manifest import load_model
from ._model import Model

GENERATED = ("feather.json", "app.py", "requirements.txt")


def pack(app_path: str | os.PathLike[str]) -> bytes:
    model = load_model(app_path)
    app_file: str = model.app_path  # type: ignore[attr-defined]
    members: dict[str, bytes] = {
        "feather.json": json.dumps(model.manifest(), indent=2).encode() + b"\n",
        "requirements.txt": "".join(f"{r}\n" for r in model.requirements).encode(),
    }
    with open(app_file, "rb") as fh:
        members["app.py"] = fh.read()
    for name, disk_path in _listed_files(model, os.path.dirname(app_file)):
        if name not in GENERATED:  # the generated copies above win
            with open(disk_path, "rb") as fh:
                members[name] = fh.read()
    return _tar_gz(members)


def _listed_files(model: Model, folder: str) -> list[tuple[str, str]]:
    """(archive name, disk path) for each entry of `files`; folders are walked."""
    root = os.path.realpath(folder)
    found: list[tuple[str, str]] = []
    for entry in model.files:
        path = os.path.realpath(os.path.join(root, entry))
        if os.path.commonpath([root, path]) != root:  # also catches symlinks pointing out
            model._fail(f"files entry {entry!r} points outside the app folder")
        if os.path.isdir(path):
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames.sort()
                for fname in filenames:
                    full = os.path.join(dirpath, fname)
                    found.append((os.path.relpath(full, root).replace(os.sep, "/"), full))
        elif os.path.isfile(path):
            found.append((entry, path))
        else:
            model._fail(f"files entry {entry!r} does not exist next to app.py")
    for name, path in found:
        if os.path.commonpath([root, os.path.realpath(path)]) != root:
            model._fail(f"file {name!r} points outside the app folder")
    return found


def _tar_gz(members: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(members[name]), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(members[name]))
    out = io.BytesIO()
    # mtime=0 and no filename keep the gzip header free of anything time- or path-dependent.
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def unpack(data: bytes) -> dict[str, bytes]:
    """Archive name -> bytes; the inverse of `pack`, for tests and tools."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                for m in tar.getmembers() if m.isfile()}
