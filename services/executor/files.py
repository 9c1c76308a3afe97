"""A run's files: stored inputs copied next to the run, produced outputs stored as blobs."""
from __future__ import annotations

import contextlib
import copy
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.contracts.files import SCHEME, blob_key, content_type_of, file_id, files_in, new_file_id
from services.kit.blobs import BlobStore

MAX_OUTPUT_FILES = 1000  # files one step may return
MAX_CLEAR_ENTRIES = 20_000  # a worker that leaves more than this in its folders is replaced
MAX_CLEAR_DEPTH = 64


class RunFiles:
    """The folders a run's files pass through. A worker serves one run at a time, so each
    worker keeps one pair and empties it between runs rather than making new ones."""

    def __init__(self, inputs: Path, outputs: Path, *, outputs_fd: int | None = None,
                 max_output_bytes: int = 256 * 2**20) -> None:
        self.inputs = inputs
        self.outputs = outputs
        # the worker's output folder held open: whatever happens to the path (a sandbox that
        # died, its pid given to another), reads and deletes stay in that folder
        self.outputs_fd = outputs_fd
        self.max_output_bytes = max_output_bytes
        self.written: list[Path] = []  # the input files this run put in place

    async def materialize(self, blobs: BlobStore, inputs: dict[str, Any],
                          inside: Callable[[Path], str] = str) -> dict[str, Any]:
        """Give each stored input file a local ``path`` (as the worker sees it); the runtime never
        fetches anything. Works on a copy: the run's recorded inputs keep only their URLs."""
        inputs = copy.deepcopy(inputs)
        for value in files_in(inputs):
            value.pop("path", None)  # only this code decides where a worker reads a file from
            fid = file_id(value["url"])
            if fid is None:
                continue
            local = self.inputs / fid.replace("/", "-")
            if not local.exists():
                local.write_bytes(await blobs.get(blob_key(fid)))
                local.chmod(0o644)  # read by a worker that runs as another uid
                self.written.append(local)
            value["path"] = inside(local)
        return inputs

    async def store_outputs(self, blobs: BlobStore, outputs: dict[str, Any],
                            outside: Callable[[str], Path] = Path) -> dict[str, Any]:
        """Replace each produced file's ``path`` with a ``feather:files/`` URL.

        A produced file must sit directly in the output folder and be a regular file; it is
        opened without following links, so a model cannot make the executor read host files.
        """
        stored: dict[str, dict[str, Any]] = {}  # one blob per file, however often it is named
        total = 0
        for value in files_in(outputs, produced=True):
            path = value.get("path")
            if not path:
                continue
            if path in stored:
                value.pop("path")
                value.update(stored[path])
                continue
            if len(stored) >= MAX_OUTPUT_FILES:
                raise ValueError(f"a step may return at most {MAX_OUTPUT_FILES} files")
            local = outside(path)
            if local.parent != self.outputs or local.name in ("", ".", ".."):
                raise ValueError(f"output file {path!r} is not in the run's output folder")
            data = _read_regular(local, self.max_output_bytes - total, self.outputs_fd)
            total += len(data)
            fid = new_file_id(value.get("name") or local.name)
            content_type = value.get("content_type") or content_type_of(local.name)
            await blobs.put(blob_key(fid), data, content_type)
            value.pop("path")
            value.update(url=SCHEME + fid, size=len(data), content_type=content_type,
                         name=value.get("name") or local.name)
            stored[path] = {key: value[key] for key in ("url", "size", "content_type", "name")}
        return outputs

    def tidy(self) -> bool:
        """Remove the inputs this run wrote; True when both folders are then empty (the usual
        case, and cheap), False when the model left something that needs ``clear``."""
        for path in self.written:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        for folder in (self.inputs, self._outputs()):
            try:
                with os.scandir(folder) as entries:
                    if next(entries, None) is not None:
                        return False
            except FileNotFoundError:
                continue
        return True

    def close(self) -> None:
        if self.outputs_fd is not None:
            os.close(self.outputs_fd)
            self.outputs_fd = None

    def _outputs(self) -> Path | int:
        return self.outputs if self.outputs_fd is None else self.outputs_fd

    def clear(self) -> bool:
        """Empty both folders (the worker keeps them mounted, so they stay themselves).

        False when the model left more than a worker should (too many entries, too deep): the
        worker is then replaced, and its folders go with it.
        """
        return all([remove_contents(folder) for folder in (self.inputs, self._outputs())])


def remove_contents(folder: Path | int, *, limit: int = MAX_CLEAR_ENTRIES, depth: int = MAX_CLEAR_DEPTH) -> bool:
    """Delete everything inside ``folder`` (a path, or a descriptor of an open folder), never
    following a link, without recursion; False (with part left) past ``limit`` entries or
    ``depth`` levels."""
    try:
        if isinstance(folder, int):
            top = os.open(".", os.O_RDONLY | os.O_DIRECTORY, dir_fd=folder)
        else:
            top = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except (FileNotFoundError, NotADirectoryError):
        return True
    stack: list[tuple[int, int | None, str]] = [(top, None, "")]  # folder, its parent, its name there
    seen = 0
    try:
        while stack:
            fd, parent, name = stack[-1]
            child = None
            with os.scandir(fd) as entries:
                for entry in entries:
                    seen += 1
                    if seen > limit:
                        return False
                    if entry.is_dir(follow_symlinks=False):
                        if len(stack) > depth:
                            return False
                        child = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                        stack.append((child, fd, entry.name))
                        break
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.name, dir_fd=fd)
            if child is None:  # this folder is empty now
                stack.pop()
                os.close(fd)
                if parent is not None:
                    with contextlib.suppress(FileNotFoundError):
                        os.rmdir(name, dir_fd=parent)
        return True
    finally:
        for fd, _, _ in stack:
            os.close(fd)


def _read_regular(path: Path, limit: int, folder_fd: int | None = None) -> bytes:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
    fd = os.open(path, flags) if folder_fd is None else os.open(path.name, flags, dir_fd=folder_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"output {path.name!r} is not a regular file")
        if info.st_size > limit:
            raise ValueError("the step's output files are larger than the output folder allows")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise ValueError("the step's output files are larger than the output folder allows")
        return data
    finally:
        os.close(fd)
