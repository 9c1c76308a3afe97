"""A build log that readers can follow while the build runs.

Lines are kept in memory and the whole log is rewritten to its blob at most every half second,
so the API (and `feather publish`) can show progress without waiting for the end.
"""
from __future__ import annotations

import asyncio
import contextlib

from services.contracts.blobs import BlobRef
from services.kit.blobs import BlobStore

FLUSH_EVERY_S = 0.5


class BuildLog:
    """``hidden`` are host folders (the data folder, the home folder) that the log names by a
    placeholder instead: the model's owner reads this log, and where the platform keeps its
    files is none of their business."""

    def __init__(self, blobs: BlobStore, key: str, hidden: dict[str, str] | None = None) -> None:
        self.blobs = blobs
        self.key = key
        # longest first, so a folder inside another is replaced by its own placeholder
        self.hidden = sorted(((f, p) for f, p in (hidden or {}).items() if len(f.rstrip("/")) > 1),
                             key=lambda kv: -len(kv[0]))
        self.lines: list[str] = []
        self._flushed = 0
        self._task: asyncio.Task[None] | None = None

    def __call__(self, line: str) -> None:
        for folder, placeholder in self.hidden:
            line = line.replace(folder, placeholder)
        self.lines.append(line)

    async def __aenter__(self) -> "BuildLog":
        self._task = asyncio.create_task(self._follow())
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            if len(self.lines) != self._flushed:
                with contextlib.suppress(Exception):  # a missed flush only delays what readers see
                    await self.flush()

    async def flush(self) -> BlobRef:
        self._flushed = len(self.lines)
        text = "\n".join(self.lines[: self._flushed]) + "\n"
        return await self.blobs.put(self.key, text.encode(), "text/plain")
