"""What each ready version runs on, as the builder announced it: kept in the store, cached here."""
from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any

from services.contracts.versions import version_key
from services.kit.store import Store

RUNTIME_WAIT_S = 60.0
STORE_POLL_S = 0.25
LOCAL_PATHS = ("python", "app_dir", "env_dir")  # what a local runtime names on this machine


def outside_of(runtime: dict[str, Any], data_dir: Path) -> str | None:
    """The first path of a local runtime that is not inside ``data_dir``, where builds go (a
    runtime is what the executor runs: never a program or folder elsewhere on the machine)."""
    root = os.path.normpath(os.path.abspath(data_dir))
    for name in LOCAL_PATHS:
        value = runtime.get(name)
        if value is None:
            continue
        path = os.path.normpath(os.path.abspath(str(value)))
        if not isinstance(value, str) or os.path.commonpath([root, path]) != root or path == root:
            return f"{name}={str(value)[:200]!r}"
    return None


class Runtimes:
    def __init__(self, store: Store, *, wait_s: float = RUNTIME_WAIT_S) -> None:
        self.store = store
        self.wait_s = wait_s
        self._known: dict[str, dict[str, Any]] = {}  # a version's runtime only changes through record
        self._ready: dict[str, asyncio.Event] = {}

    async def record(self, model_id: str, version: int, runtime: dict[str, Any], *, event_id: str) -> bool:
        """Keep a version's runtime; False when this event was already applied (read again after a restart)."""
        key = version_key(model_id, version)
        fresh = await self.store.apply("runtimes", key, {"runtime": runtime}, event_id=event_id)
        self._known[key] = runtime
        self._ready.setdefault(key, asyncio.Event()).set()
        return fresh

    async def get(self, model_id: str, version: int) -> dict[str, Any] | None:
        """The version's runtime, waiting a while for it: runs and builds travel on separate topics,
        so a run may arrive before the build it needs."""
        key = version_key(model_id, version)
        if key in self._known:
            return self._known[key]
        ready = self._ready.setdefault(key, asyncio.Event())
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.wait_s
        # the build's event wakes this executor when it reads it; with several executors another
        # may have read it (one group), so the store is looked at again every STORE_POLL_S too
        while (doc := await self.store.get("runtimes", key)) is None and (left := give_up - loop.time()) > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(ready.wait(), min(STORE_POLL_S, left))
        if doc is None:
            return None
        self._known[key] = doc["runtime"]
        return doc["runtime"]
