"""A run's files: stored inputs copied next to the run, produced outputs stored as blobs."""
from __future__ import annotations

import contextlib
import copy
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.contracts.files import SCHEME, blob_key, content_type_of, file_id, file_values, new_file_id
from services.kit.blobs import BlobStore


class RunFiles:
    """The folders a run's files pass through. A worker serves one run at a time, so each
    worker keeps one pair and empties it between runs rather than making new ones."""

    def __init__(self, inputs: Path, outputs: Path) -> None:
        self.inputs = inputs
        self.outputs = outputs

    async def materialize(self, blobs: BlobStore, inputs: dict[str, Any],
                          inside: Callable[[Path], str] = str) -> dict[str, Any]:
        """Give each stored input file a local ``path`` (as the worker sees it); the runtime never
        fetches anything. Works on a copy: the run's recorded inputs keep only their URLs."""
        inputs = copy.deepcopy(inputs)
        self.inputs.mkdir(parents=True, exist_ok=True)
        self.outputs.mkdir(parents=True, exist_ok=True)
        for value in file_values(inputs):
            value.pop("path", None)  # only this code decides where a worker reads a file from
            fid = file_id(value["url"])
            if fid is None:
                continue
            local = self.inputs / fid.replace("/", "-")
            if not local.exists():
                local.write_bytes(await blobs.get(blob_key(fid)))
                local.chmod(0o644)  # read by a worker that runs as another uid
            value["path"] = inside(local)
        return inputs

    async def store_outputs(self, blobs: BlobStore, outputs: dict[str, Any],
                            outside: Callable[[str], Path] = Path) -> dict[str, Any]:
        """Replace each produced file's ``path`` with a ``feather:files/`` URL.

        A produced file must sit directly in the output folder and be a regular file; it is
        opened without following links, so a model cannot make the executor read host files.
        """
        for value in file_values(outputs, produced=True):
            path = value.get("path")
            if not path:
                continue
            local = outside(path)
            if local.parent != self.outputs or local.name in ("", ".", ".."):
                raise ValueError(f"output file {path!r} is not in the run's output folder")
            data = _read_regular(local)
            fid = new_file_id(value.get("name") or local.name)
            content_type = value.get("content_type") or content_type_of(local.name)
            await blobs.put(blob_key(fid), data, content_type)
            value.pop("path")
            value.update(url=SCHEME + fid, size=len(data), content_type=content_type,
                         name=value.get("name") or local.name)
        return outputs

    def clear(self) -> None:
        """Empty both folders (the worker keeps them mounted, so they stay themselves)."""
        for folder in (self.inputs, self.outputs):
            try:
                entries = list(os.scandir(folder))
            except FileNotFoundError:
                continue
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)


def _read_regular(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"output {path.name!r} is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read()
    finally:
        os.close(fd)
