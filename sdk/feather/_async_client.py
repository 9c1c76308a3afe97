"""`AsyncClient`: the same API as `Client`, as coroutines on httpx.AsyncClient."""
from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from . import _client_files as files
from . import _client_flows as flows
from . import _config
from ._client_base import (
    Call,
    Core,
    Emit,
    Flow,
    Sleep,
    T,
    aiter_chunks,
    check,
    deadline_after,
    default_headers,
    error_for,
    model_path,
    request_args,
    transport_error,
)
from ._client_run import AsyncRun, Run
from ._client_stream import StreamEvent
from ._client_stream import aevents as stream_events
from ._errors import FeatherError

__all__ = ["AsyncClient", "AsyncJob", "AsyncLogStream", "AsyncRun"]


class AsyncClient:
    """`async with feather.AsyncClient() as c: run = await c.run("alice/hello", name="Bob")`

    Accepts `transport=httpx.ASGITransport(app)` to talk to an ASGI app in-process.
    """

    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 60.0,
                 transport: httpx.AsyncBaseTransport | None = None, *, validate: bool = True) -> None:
        if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
            raise TypeError(f"transport must be an httpx async transport, got {type(transport).__name__}")
        self.url, self.token = _config.resolve(url, token)
        self.timeout = timeout
        self._core = Core(self.url, timeout, validate, run_class=AsyncRun, drive=self._drive)
        self._http = httpx.AsyncClient(base_url=self.url, headers=default_headers(self.token),
                                       timeout=timeout,
                                       transport=transport)

    async def run(self, ref: str, /, *, version: int | None = None, step: str | None = None,
                  previous_run: str | Run | None = None, wait: float | None = 60,
                  **inputs: Any) -> AsyncRun:
        return await self.run_with(ref, inputs, version=version, step=step,
                                   previous_run=previous_run, wait=wait)

    async def run_with(self, ref: str, inputs: dict[str, Any], *, version: int | None = None,
                       step: str | None = None, previous_run: str | Run | None = None,
                       wait: float | None = 60, idempotency_key: str | None = None) -> AsyncRun:
        found = await self._drive(flows.run(self._core, ref, inputs, wait=wait, version=version,
                                            step=step, previous_run=previous_run,
                                            idempotency_key=idempotency_key))
        return check(found) if found.done else found

    async def stream(self, ref: str, /, *, version: int | None = None, step: str | None = None,
                     **inputs: Any) -> AsyncIterator[StreamEvent]:
        """`Client.stream`: `async for event in client.stream(ref, **inputs)`."""
        run = await self._drive(flows.start(self._core, ref, inputs, version=version, step=step))
        async for event in stream_events(self._http, run.urls["stream"]):
            yield event

    async def run_chain(self, ref: str, inputs: dict[str, Any],
                        choices: dict[str, dict[str, Any]] | None = None, *,
                        version: int | None = None, step: str | None = None,
                        wait: float | None = 60) -> AsyncRun:
        found = await self._drive(flows.run(self._core, ref, inputs, wait=wait, version=version,
                                            step=step, chain=True, choices=choices))
        return check(found) if found.done else found

    async def submit(self, ref: str, /, *, version: int | None = None, step: str | None = None,
                     previous_run: str | Run | None = None, **inputs: Any) -> AsyncJob:
        return await self.submit_with(ref, inputs, version=version, step=step,
                                      previous_run=previous_run)

    async def submit_with(self, ref: str, inputs: dict[str, Any], *, version: int | None = None,
                          step: str | None = None, previous_run: str | Run | None = None) -> AsyncJob:
        return AsyncJob(self, await self._drive(flows.start(
            self._core, ref, inputs, version=version, step=step, previous_run=previous_run)))

    async def get_run(self, run_id: str, *, token: str | None = None) -> AsyncRun:
        """A run by id; a run made without an account also needs its `token` (`Run.token`)."""
        return await self._drive(flows.get_run(self._core, run_id, token))

    async def cancel(self, run_id: str) -> AsyncRun:
        return await self._drive(flows.cancel(self._core, run_id))

    async def feedback(self, run: str | Run, *, rating: str | int | None = None, label: str | None = None,
                       comment: str = "") -> dict[str, Any]:
        return await self._drive(flows.feedback(run, rating, label, comment))

    async def runs(self, model: str | None = None, *, limit: int = 100) -> list[AsyncRun]:
        return await self._drive(flows.runs(self._core, model, limit))

    async def upload(self, source: str | os.PathLike[str] | bytes | Any, name: str | None = None,
                     content_type: str | None = None) -> dict[str, Any]:
        return await self._drive(files.upload(source, name, content_type))

    async def download(self, value: dict[str, Any] | str) -> bytes:
        return await self._drive(files.download(self._core, value))

    async def model(self, ref: str) -> dict[str, Any]:
        return await self._drive(flows.fetch_model(self._core, ref))

    async def models(self) -> list[dict[str, Any]]:
        return await self._drive(flows.models(self._core))

    async def delete(self, ref: str) -> None:
        await self._drive(flows.delete(self._core, ref))

    async def deploy(self, ref: str, version: int | None = None, *, follow: str | None = None) -> dict[str, Any]:
        return await self._drive(flows.deploy(self._core, ref, version, follow))

    async def openapi(self, ref: str) -> dict[str, Any]:
        return await self._drive(flows.get_json(f"{model_path(ref)}/openapi.json"))

    async def metrics(self, ref: str) -> dict[str, Any]:
        return await self._drive(flows.get_json(f"{model_path(ref)}/metrics"))

    async def me(self) -> dict[str, Any]:
        return await self._drive(flows.get_json("/v1/me"))

    async def publish(self, app_path: str | os.PathLike[str],
                      progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        return await self._drive(flows.publish(self._core, app_path, progress))

    async def wait_ready(self, ref: str, version: int, timeout: float = 600.0,
                         on_status: Callable[[str], None] | None = None) -> dict[str, Any]:
        return await self._drive(flows.wait_ready(self._core, ref, version, timeout, on_status))

    async def build_log(self, ref: str, version: int, offset: int = 0) -> tuple[str, str | None]:
        return await self._drive(flows.build_log(ref, version, offset))

    def stream_build_log(self, ref: str, version: int, timeout: float = 900.0) -> AsyncLogStream:
        """`async for chunk in client.stream_build_log(ref, v):`; then `.status`."""
        box: list[Any] = []
        return AsyncLogStream(self._pump(flows.stream_build_log(ref, version, timeout), box), box)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _pump(self, flow: Flow[Any], box: list[Any]) -> AsyncIterator[Any]:
        """Run `flow`, yielding what it emits; what it returns is appended to `box`."""
        send: Any = None
        error: FeatherError | None = None
        while True:
            try:
                op = flow.throw(error) if error is not None else flow.send(send)
            except StopIteration as stop:
                box.append(stop.value)
                return
            send, error = None, None
            if isinstance(op, Emit):
                yield op.value
            elif isinstance(op, Sleep):
                await asyncio.sleep(op.seconds)
            else:
                try:
                    send = await self._send(op)
                except FeatherError as exc:  # the flow may handle it (e.g. a 404 while registering)
                    error = exc

    async def _drive(self, flow: Flow[T]) -> T:
        box: list[Any] = []
        async for _ in self._pump(flow, box):
            pass
        return box[0]  # type: ignore[no-any-return]

    async def _send(self, call: Call) -> httpx.Response:
        args = request_args(call)
        if call.chunks is not None:
            args["content"] = aiter_chunks(call)
        if self._http.is_closed:
            raise FeatherError("the client is closed; runs fetch their files through it")
        request = self._http.build_request(call.method, call.path, **args)
        if call.anonymous:
            request.headers.pop("Authorization", None)
        try:
            resp = await self._http.send(request)
        except httpx.TransportError as exc:
            raise transport_error(self.url, exc) from exc
        if resp.status_code >= 400:
            raise error_for(resp)
        return resp


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

    async def result(self, timeout: float | None = None) -> AsyncRun:
        self.run = await self._client._drive(flows.poll(self._client._core, self.run,
                                                        deadline=deadline_after(timeout), limit=timeout))
        return check(self.run)

    async def cancel(self) -> AsyncRun:
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
