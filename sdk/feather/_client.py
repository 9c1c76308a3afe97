"""HTTP client for the feather platform API (needs httpx; not used by the runtime)."""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any

import httpx

from . import _client_files as files
from . import _client_flows as flows
from . import _config
from ._client_base import (
    TERMINAL,
    Call,
    Core,
    Emit,
    Flow,
    Sleep,
    T,
    check,
    deadline_after,
    default_headers,
    error_for,
    iter_chunks,
    model_path,
    request_args,
    transport_error,
)
from ._client_run import Run
from ._client_stream import StreamEvent
from ._client_stream import events as stream_events
from ._errors import FeatherError
from ._transport import adapt_transport

__all__ = ["TERMINAL", "Client", "Job", "LogStream", "Run"]


class Client:
    """`with feather.Client() as c: c.run("alice/hello", name="Bob").outputs`

    Inputs are checked against the model's manifest before anything is sent (set
    `validate=False` to leave every check to the server); files given as paths, bytes,
    PIL images or numpy arrays travel inline up to 256 KiB and are uploaded above that.
    """

    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 60.0,
                 transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
                 *, validate: bool = True) -> None:
        self.url, self.token = _config.resolve(url, token)
        self.timeout = timeout
        self._core = Core(self.url, timeout, validate, run_class=Run, drive=self._drive)
        self._http = httpx.Client(base_url=self.url, headers=default_headers(self.token), timeout=timeout,
                                  transport=adapt_transport(transport))

    # Runs
    def run(self, ref: str, /, *, version: int | None = None, step: str | None = None,
            previous_run: str | Run | None = None, wait: float | None = 60, **inputs: Any) -> Run:
        """Start a run and wait up to `wait` seconds for it; wait=0/None returns at once."""
        return self.run_with(ref, inputs, version=version, step=step,
                             previous_run=previous_run, wait=wait)

    def run_with(self, ref: str, inputs: dict[str, Any], *, version: int | None = None,
                 step: str | None = None, previous_run: str | Run | None = None,
                 wait: float | None = 60, idempotency_key: str | None = None) -> Run:
        """Like `run`, with inputs as a dict (for names such as `version` or `wait`). With
        `idempotency_key`, a retry of the same request (within 24 h) answers the same run."""
        found = self._drive(flows.run(self._core, ref, inputs, wait=wait, version=version,
                                      step=step, previous_run=previous_run,
                                      idempotency_key=idempotency_key))
        return check(found) if found.done else found

    def stream(self, ref: str, /, *, version: int | None = None, step: str | None = None,
               **inputs: Any) -> Iterator[StreamEvent]:
        """Start a run and iterate its events as they happen: `output` (data["outputs"] so far,
        for a step that yields), `progress`, and at the end `logs`, `error` and `done` (data: the
        run). A dropped connection resumes where it left off."""
        run = self._drive(flows.start(self._core, ref, inputs, version=version, step=step))
        return stream_events(self._http, run.urls["stream"])

    def run_chain(self, ref: str, inputs: dict[str, Any],
                  choices: dict[str, dict[str, Any]] | None = None, *, version: int | None = None,
                  step: str | None = None, wait: float | None = 60) -> Run:
        """Run every step in one call; `choices[step][input]` answers an interactive output."""
        found = self._drive(flows.run(self._core, ref, inputs, wait=wait, version=version,
                                      step=step, chain=True, choices=choices))
        return check(found) if found.done else found

    def submit(self, ref: str, /, *, version: int | None = None, step: str | None = None,
               previous_run: str | Run | None = None, **inputs: Any) -> Job:
        """Start a run and return at once; see `Job`."""
        return self.submit_with(ref, inputs, version=version, step=step, previous_run=previous_run)

    def submit_with(self, ref: str, inputs: dict[str, Any], *, version: int | None = None,
                    step: str | None = None, previous_run: str | Run | None = None) -> Job:
        return Job(self, self._drive(flows.start(self._core, ref, inputs, version=version,
                                                 step=step, previous_run=previous_run)))

    def get_run(self, run_id: str, *, token: str | None = None) -> Run:
        """A run by id; a run made without an account also needs its `token` (`Run.token`)."""
        return self._drive(flows.get_run(self._core, run_id, token))

    def cancel(self, run_id: str) -> Run:
        """Ask to cancel a run; 409 (FeatherError) when it already ended."""
        return self._drive(flows.cancel(self._core, run_id))

    def feedback(self, run: str | Run, *, rating: str | int | None = None, label: str | None = None,
                 comment: str = "") -> dict[str, Any]:
        """Say what you think of a run: `rating` "up"/"down" or 1 to 5, `label` the right answer,
        a `comment`. One feedback per caller per run; calling again revises it."""
        return self._drive(flows.feedback(run, rating, label, comment))

    def runs(self, model: str | None = None, *, limit: int = 100) -> list[Run]:
        """Your own runs, newest first (needs a token); `model` narrows to owner/name."""
        return self._drive(flows.runs(self._core, model, limit))

    # Files
    def upload(self, source: str | os.PathLike[str] | bytes | Any, name: str | None = None,
               content_type: str | None = None) -> dict[str, Any]:
        """Upload a file; the returned value can be given as any file input."""
        return self._drive(files.upload(source, name, content_type))

    def download(self, value: dict[str, Any] | str) -> bytes:
        """The bytes of a file value (or its url): data:, feather:files/ or http(s)."""
        return self._drive(files.download(self._core, value))

    # Models
    def model(self, ref: str) -> dict[str, Any]:
        return self._drive(flows.fetch_model(self._core, ref))

    def models(self) -> list[dict[str, Any]]:
        return self._drive(flows.models(self._core))

    def delete(self, ref: str) -> None:
        """Delete a model you own, with every version."""
        self._drive(flows.delete(self._core, ref))

    def deploy(self, ref: str, version: int | None = None, *, follow: str | None = None) -> dict[str, Any]:
        """Serve `version` of a model you own when a run names none (``owner/name:3`` works too);
        `follow`: "latest" lets a version published later take over once ready, "pinned" not."""
        return self._drive(flows.deploy(self._core, ref, version, follow))

    def openapi(self, ref: str) -> dict[str, Any]:
        return self._drive(flows.get_json(f"{model_path(ref)}/openapi.json"))

    def metrics(self, ref: str) -> dict[str, Any]:
        return self._drive(flows.get_json(f"{model_path(ref)}/metrics"))

    def me(self) -> dict[str, Any]:
        return self._drive(flows.get_json("/v1/me"))

    def publish(self, app_path: str | os.PathLike[str],
                progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """Validate and pack app.py locally, then upload it; progress(sent, total) in bytes."""
        return self._drive(flows.publish(self._core, app_path, progress))

    def wait_ready(self, ref: str, version: int, timeout: float = 600.0,
                   on_status: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Poll until `version` is ready (returns the model) or failed (raises BuildFailed)."""
        return self._drive(flows.wait_ready(self._core, ref, version, timeout, on_status))

    def build_log(self, ref: str, version: int, offset: int = 0) -> tuple[str, str | None]:
        """(log text from byte `offset`, build status: building, ready or failed)."""
        return self._drive(flows.build_log(ref, version, offset))

    def stream_build_log(self, ref: str, version: int, timeout: float = 900.0) -> LogStream:
        """Log text as the build writes it, until it ends; the stream's `status` then says how."""
        return LogStream(self._pump(flows.stream_build_log(ref, version, timeout)))

    # Plumbing
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pump(self, flow: Flow[T]) -> Generator[Any, None, T]:
        """Run `flow`, yielding what it emits; returns what it returns."""
        send: Any = None
        error: FeatherError | None = None
        while True:
            try:
                op = flow.throw(error) if error is not None else flow.send(send)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            send, error = None, None
            if isinstance(op, Emit):
                yield op.value
            elif isinstance(op, Sleep):
                time.sleep(op.seconds)
            else:
                try:
                    send = self._send(op)
                except FeatherError as exc:  # the flow may handle it (e.g. a 404 while registering)
                    error = exc

    def _drive(self, flow: Flow[T]) -> T:
        pump = self._pump(flow)
        while True:
            try:
                next(pump)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]

    def _send(self, call: Call) -> httpx.Response:
        args = request_args(call)
        if call.chunks is not None:
            args["content"] = iter_chunks(call)
        if self._http.is_closed:
            raise FeatherError("the client is closed; runs fetch their files through it")
        request = self._http.build_request(call.method, call.path, **args)
        if call.anonymous:
            request.headers.pop("Authorization", None)
        try:
            resp = self._http.send(request)
        except httpx.TransportError as exc:
            raise transport_error(self.url, exc) from exc
        if resp.status_code >= 400:
            raise error_for(resp)
        return resp


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
                                                  deadline=deadline_after(timeout), limit=timeout))
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
