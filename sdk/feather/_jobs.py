"""Jobs (runs started with `submit`) and build log streams, for Client and AsyncClient."""
from __future__ import annotations

import time
from collections.abc import AsyncIterator, Generator, Iterator
from typing import TYPE_CHECKING, Any

from . import _client_flows as flows
from ._client_base import check
from ._client_run import Run

if TYPE_CHECKING:
    from ._async_client import AsyncClient
    from ._client import Client


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


class Job:
    """A run started with `Client.submit`.

    `for run in job:` yields a snapshot each time the status or progress changes, ending
    with the finished run; `job.result()` waits and raises RunFailed/RunTimedOut like run().
    """

    def __init__(self, client: Client, run: Run) -> None:
        self._client = client
        self.run = run  # the latest snapshot seen

    @property
    def id(self) -> str:
        return self.run.id

    def status(self) -> str:
        """Fetch the run and return its status."""
        self.run = self._client.get_run(self.id)
        return self.run.status

    def result(self, timeout: float | None = None) -> Run:
        """Wait (forever by default) for the run to end; the run when it succeeded."""
        self.run = self._client._drive(flows.poll(self._client._core, self.run,
                                                  deadline=_deadline(timeout), limit=timeout))
        return check(self.run)

    def cancel(self) -> Run:
        """Ask the platform to cancel the run (it ends `canceled` shortly after)."""
        self.run = self._client.cancel(self.id)
        return self.run

    def __iter__(self) -> Iterator[Run]:
        for snapshot in self._client._pump(flows.poll(self._client._core, self.run,
                                                      deadline=None, emit=True)):
            self.run = snapshot
            yield snapshot

    def __repr__(self) -> str:
        return f"Job(id={self.id!r}, status={self.run.status!r})"


class AsyncJob:
    """`Job` for AsyncClient: `await job.result()`, `async for run in job:`."""

    def __init__(self, client: AsyncClient, run: Run) -> None:
        self._client = client
        self.run = run

    @property
    def id(self) -> str:
        return self.run.id

    async def status(self) -> str:
        self.run = await self._client.get_run(self.id)
        return self.run.status

    async def result(self, timeout: float | None = None) -> Run:
        self.run = await self._client._drive(flows.poll(self._client._core, self.run,
                                                        deadline=_deadline(timeout), limit=timeout))
        return check(self.run)

    async def cancel(self) -> Run:
        self.run = await self._client.cancel(self.id)
        return self.run

    async def __aiter__(self) -> AsyncIterator[Run]:
        box: list[Any] = []
        async for snapshot in self._client._pump(flows.poll(self._client._core, self.run,
                                                            deadline=None, emit=True), box):
            self.run = snapshot
            yield snapshot

    def __repr__(self) -> str:
        return f"AsyncJob(id={self.id!r}, status={self.run.status!r})"


class LogStream:
    """Build log text chunks as they arrive; `status` is the final build status afterwards."""

    def __init__(self, pump: Generator[Any, None, Any]) -> None:
        self._pump = pump
        self.status: str | None = None

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        try:
            chunk: str = next(self._pump)
        except StopIteration as stop:
            self.status = stop.value
            raise StopIteration from None
        return chunk


class AsyncLogStream:
    """`LogStream` for AsyncClient: `async for chunk in stream:`."""

    def __init__(self, pump: AsyncIterator[Any], box: list[Any]) -> None:
        self._pump, self._box = pump, box
        self.status: str | None = None

    def __aiter__(self) -> AsyncIterator[str]:
        return self

    async def __anext__(self) -> str:
        try:
            chunk: str = await self._pump.__anext__()
        except StopAsyncIteration:
            self.status = self._box[0] if self._box else None
            raise
        return chunk
