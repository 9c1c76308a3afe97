"""The runs this executor is running now, as tasks: bookkeeping only, no policy."""
from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class Jobs:
    def __init__(self, max_concurrent: int = 64) -> None:
        self.slots = asyncio.Semaphore(max_concurrent)  # runs beyond this wait before their first step
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._canceling: set[str] = set()
        self._background: set[asyncio.Task[None]] = set()  # held here so none is collected mid-way

    def start(self, run_id: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name=f"run {run_id}")
        self.tasks[run_id] = task
        task.add_done_callback(lambda _: self.tasks.pop(run_id, None))

    def background(self, work: Coroutine[Any, Any, None]) -> None:
        """Work for no run in particular (warming a new version's workers)."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def cancel(self, run_id: str) -> bool:
        """Cancel the run's task, if it is running here; ``canceled`` then tells it apart from a shutdown."""
        task = self.tasks.get(run_id)
        if task is None or task.done():
            return False
        self._canceling.add(run_id)
        task.cancel()
        return True

    def canceled(self, run_id: str) -> bool:
        """Whether the run was canceled on request (asked once, when its task sees the cancel)."""
        if run_id in self._canceling:
            self._canceling.discard(run_id)
            return True
        return False

    async def close(self) -> None:
        tasks = [*self.tasks.values(), *self._background]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
