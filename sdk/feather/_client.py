"""HTTP client for the feather platform API (needs httpx; not used by the runtime)."""
from __future__ import annotations

import math
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from . import __version__, _config
from ._bundle import pack
from ._errors import BuildFailed, FeatherError, InvalidInput, NotFound, RunFailed, RunTimedOut, Unauthorized
from ._transport import adapt_transport

TERMINAL = frozenset({"succeeded", "failed", "canceled", "timed_out"})
_CHUNK = 64 * 1024


@dataclass
class Run:
    """One run as the platform reports it; `metrics` has queue_ms, predict_ms, total_ms."""

    id: str
    model: str
    version: int | None
    status: str
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] | None = None
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None
    completed_at: str | None = None
    step: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Run:
        return cls(id=data["id"], model=data.get("model", ""), version=data.get("version"),
                   status=data.get("status", ""), inputs=data.get("inputs") or {},
                   outputs=data.get("outputs"), error=data.get("error"),
                   metrics=data.get("metrics") or {}, created_at=data.get("created_at"),
                   completed_at=data.get("completed_at"), step=data.get("step"))


class Client:
    """`with feather.Client() as c: c.run("alice/hello", name="Bob").outputs`"""

    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 60.0,
                 transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None) -> None:
        self.url, self.token = _config.resolve(url, token)
        self.timeout = timeout
        headers = {"User-Agent": f"feather-python/{__version__}"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout,
                                  transport=adapt_transport(transport))

    def run(self, ref: str, /, *, version: int | None = None, wait: float | None = 60,
            **inputs: Any) -> Run:
        """Start a run and wait up to `wait` seconds for it; wait=0/None returns at once."""
        return self.run_with(ref, inputs, version=version, wait=wait)

    def run_with(self, ref: str, inputs: dict[str, Any], *, version: int | None = None,
                 wait: float | None = 60) -> Run:
        """Like `run`, with inputs as a dict (for names such as `version` or `wait`)."""
        body: dict[str, Any] = {"inputs": inputs}
        if version is not None:
            body["version"] = version
        headers = {"Prefer": f"wait={math.ceil(wait)}"} if wait else {}
        deadline = time.monotonic() + (wait or 0)
        resp = self._request("POST", f"{_model_path(ref)}/runs", json=body, headers=headers,
                             timeout=max(self.timeout, (wait or 0) + 10))
        run, delay = Run.from_dict(resp.json()), 0.05
        while wait and run.status not in TERMINAL:  # 202: the server's wait ended first
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RunTimedOut(f"run {run.id} did not finish within {wait:g}s "
                                  f"(status: {run.status})", run)
            time.sleep(min(delay, remaining))
            delay = min(delay * 1.5, 1.0)
            run = self.get_run(run.id)
        return _check(run) if run.status in TERMINAL else run

    def get_run(self, run_id: str) -> Run:
        return Run.from_dict(self._request("GET", f"/v1/runs/{quote(run_id, safe='')}").json())

    def model(self, ref: str) -> dict[str, Any]:
        return self._request("GET", _model_path(ref)).json()

    def models(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor, seen = None, set()
        while True:
            page = self._request("GET", "/v1/models",
                                 params={"cursor": cursor} if cursor else None).json()
            items.extend(page.get("items") or [])
            cursor = page.get("next_cursor")
            if not cursor or cursor in seen:  # a repeated cursor would loop forever
                return items
            seen.add(cursor)

    def publish(self, app_path: str | os.PathLike[str],
                progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """Validate and pack app.py locally, then upload it; progress(sent, total) in bytes."""
        bundle = pack(app_path)
        boundary = uuid.uuid4().hex
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="bundle"; '
                f'filename="bundle.tar.gz"\r\nContent-Type: application/gzip\r\n\r\n').encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        total = len(head) + len(bundle) + len(tail)

        def body() -> Iterator[bytes]:
            sent = 0
            pieces = [bundle[i:i + _CHUNK] for i in range(0, len(bundle), _CHUNK)]
            for piece in [head, *pieces, tail]:
                yield piece
                sent += len(piece)
                if progress:
                    progress(sent, total)
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}",
                   "Content-Length": str(total)}
        return self._request("POST", "/v1/models", content=body(), headers=headers).json()

    def wait_ready(self, ref: str, version: int, timeout: float = 600.0,
                   on_status: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Poll until `version` is ready (returns the model) or failed (raises BuildFailed)."""
        start = time.monotonic()
        delay = 0.2
        while True:
            try:
                info: dict[str, Any] = self.model(ref)
            except NotFound:
                if time.monotonic() - start > 10:  # the registry may lag the upload briefly
                    raise
                info = {}
            versions = info.get("versions") or []
            entry: dict[str, Any] = next((v for v in versions if v.get("version") == version), {})
            status = entry.get("status", "pending")
            if on_status:
                on_status(status)
            if status == "ready":
                return info
            if status == "failed":
                reason = f": {entry['error']}" if entry.get("error") else ""
                raise BuildFailed(f"build of {ref} version {version} failed{reason}",
                                  log=self._build_log_or_empty(ref, version))
            remaining = start + timeout - time.monotonic()
            if remaining <= 0:
                raise FeatherError(f"{ref} version {version} was not ready after "
                                   f"{timeout:g}s (status: {status})")
            time.sleep(min(delay, remaining))
            delay = min(delay * 1.5, 2.0)

    def build_log(self, ref: str, version: int) -> str:
        return self._request("GET", f"{_model_path(ref)}/versions/{int(version)}/build-log").text

    def metrics(self, ref: str) -> dict[str, Any]:
        return self._request("GET", f"{_model_path(ref)}/metrics").json()

    def me(self) -> dict[str, Any]:
        return self._request("GET", "/v1/me").json()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _build_log_or_empty(self, ref: str, version: int) -> str:
        try:
            return self.build_log(ref, version)
        except FeatherError:
            return ""

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            resp = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise FeatherError(f"request to {self.url} timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise FeatherError(f"cannot reach feather at {self.url}: {exc}") from exc
        if resp.status_code >= 400:
            raise _error_for(resp)
        return resp


def _model_path(ref: str) -> str:
    owner, _, name = ref.partition("/")
    if not owner or not name or "/" in name:
        raise InvalidInput(f"model reference must look like owner/name, got {ref!r}", field="ref")
    return f"/v1/models/{quote(owner, safe='')}/{quote(name, safe='')}"


def _check(run: Run) -> Run:
    if run.status == "failed":
        raise RunFailed(run.error or "the run failed without an error message", run)
    if run.status == "canceled":
        raise RunFailed(run.error or "the run was canceled", run)
    if run.status == "timed_out":
        raise RunTimedOut(run.error or "the run timed out on the server", run)
    return run


def _error_for(resp: httpx.Response) -> FeatherError:
    code = resp.status_code
    try:
        body = resp.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    if code == 422 and isinstance(detail, list) and detail:
        problems = [d for d in detail if isinstance(d, dict)]
        fields = [str(d["loc"][-1]) for d in problems if d.get("loc")]
        # Name the input when the error is about one; "inputs"/"body" mean the whole object.
        text = "; ".join(
            (f"input {d['loc'][-1]!r}: " if d.get("loc") and d["loc"][-1] not in ("body", "inputs")
             else "") + str(d.get("msg", d)) for d in problems) or str(detail)
        return InvalidInput(f"invalid input: {text}", field=fields[0] if fields else None,
                            status_code=code)
    text = detail if isinstance(detail, str) else (str(detail) if detail is not None
                                                   else resp.text.strip()[:500] or resp.reason_phrase)
    if code in (401, 403):
        hint = " (run `feather login` or set FEATHER_TOKEN)" if code == 401 else ""
        return Unauthorized(f"unauthorized: {text}{hint}", status_code=code)
    if code == 404:
        return NotFound(f"not found: {text}", status_code=code)
    if code == 422:
        return InvalidInput(f"invalid input: {text}", status_code=code)
    return FeatherError(f"feather answered {code}: {text}", status_code=code)
