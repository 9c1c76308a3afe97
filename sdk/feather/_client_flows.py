"""Runs, models and publishing as flows (see _client_base): written once for Client and AsyncClient."""
from __future__ import annotations

import codecs
import math
import os
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._bundle import pack
from ._client_base import Call, Core, Emit, Flow, Sleep, fetch_model, model_path, run_path, split_ref
from ._client_files import send_inputs
from ._errors import BuildFailed, FeatherError, InvalidInput, NotFound, RunTimedOut
from ._wire_client import PendingFiles, input_specs, prepare, step_entry
from .rules import newest_ready

if TYPE_CHECKING:
    from ._client_run import Run

FIRST_POLL, LAST_POLL = 0.05, 0.5  # seconds between polls: quick at first, then gentler
PAGE_MAX = 200  # the most items GET /v1/runs answers per page


def prepare_inputs(core: Core, ref: str, inputs: dict[str, Any], *, version: int | None,
                   step: str | None, partial: bool, pick_next: bool) -> Flow[dict[str, Any]]:
    """Check inputs against the manifest (fetched once per ref), then send their files."""
    info, fresh = core.models.get(ref), False
    if core.validate and info is None:
        info, fresh = (yield from fetch_model(core, ref)), True
    while True:
        # Checks apply only when the rules are known: not when the server picks the step
        # (the next one after a previous run), nor for another version than the manifest's.
        checked = core.validate and not pick_next and version in (None, shown_version(info))
        entry = step_entry(info, step) if checked else None
        pending = PendingFiles()
        try:
            wire = prepare(entry, input_specs(info, entry), inputs, pending, partial=partial)
            break
        except InvalidInput:
            if fresh or not checked:
                raise
            # A cached manifest may predate a newer version: judge again by the current one.
            info, fresh = (yield from fetch_model(core, ref)), True
    return (yield from send_inputs(wire, pending))


def shown_version(info: dict[str, Any] | None) -> int | None:
    """The version whose manifest GET /v1/models/{ref} shows: the deployed one, which is the
    newest ready one unless its owner deployed another."""
    deployed = ((info or {}).get("deployment") or {}).get("version")
    if isinstance(deployed, int):
        return deployed
    newest = newest_ready((info or {}).get("versions") or [])
    latest = (info or {}).get("latest_version")
    return newest["version"] if newest else latest if isinstance(latest, int) else None


def start(core: Core, ref: str, inputs: dict[str, Any], *, version: int | None = None,
          step: str | None = None, previous_run: str | Run | None = None, chain: bool = False,
          choices: dict[str, dict[str, Any]] | None = None, wait: float | None = None,
          idempotency_key: str | None = None) -> Flow[Run]:
    """POST a run; with `wait`, the server holds the answer up to that many seconds. With
    `idempotency_key`, sending it again (within 24 h) answers the same run. ``owner/name:3``
    runs version 3; ``owner/name`` the version its owner deployed."""
    ref, version = split_ref(ref, version)
    path = f"{model_path(ref)}/runs"
    sent = yield from prepare_inputs(core, ref, inputs, version=version, step=step,
                                     partial=previous_run is not None,
                                     pick_next=previous_run is not None and step is None)
    body: dict[str, Any] = {"inputs": sent}
    if previous_run is not None and not isinstance(previous_run, str):  # a Run: its read token, for a
        # run made without an account
        if (token := previous_run.token) is not None:
            body["previous_run_token"] = token
        previous_run = previous_run.id
    for key, value in (("version", version), ("step", step), ("previous_run", previous_run)):
        if value is not None:
            body[key] = value
    if chain:
        body.update(chain=True, choices=choices or {})
    headers = {"Prefer": f"wait={math.ceil(wait)}"} if wait else {}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    resp = yield Call("POST", path, json=body, headers=headers,
                      timeout=max(core.timeout, (wait or 0) + 10))
    return core.run(resp.json())


def run(core: Core, ref: str, inputs: dict[str, Any], *, wait: float | None,
        **options: Any) -> Flow[Run]:
    """Start a run and wait up to `wait` seconds in all (server wait, then polling)."""
    deadline = time.monotonic() + (wait or 0)
    found = yield from start(core, ref, inputs, wait=wait, **options)
    if not wait:
        return found
    return (yield from poll(core, found, deadline=deadline, limit=wait))


def poll(core: Core, run: Run, *, deadline: float | None, limit: float | None = None,
         emit: bool = False) -> Flow[Run]:
    """Fetch the run until it ends; with `emit`, yield each snapshot whose status or progress moved."""
    delay = FIRST_POLL
    if emit:
        yield Emit(run)
    while not run.done:
        pause = delay
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RunTimedOut(f"run {run.id} did not finish within {limit or 0:g}s "
                                  f"(status: {run.status})", run)
            pause = min(delay, remaining)
        yield Sleep(pause)
        delay = min(delay * 1.5, LAST_POLL)
        before = (run.status, run.progress)
        run = yield from refresh(core, run)
        if emit and (run.status, run.progress) != before:
            yield Emit(run)
    return run


def refresh(core: Core, run: Run) -> Flow[Run]:
    """The run again, through the URL it came with: a run made without an account can only
    be read with the token in it."""
    url = run.urls.get("get")
    resp = yield Call("GET", url if isinstance(url, str) and url.startswith("/v1/runs/") else run_path(run.id))
    return core.run(resp.json())


def get_run(core: Core, run_id: str, token: str | None = None) -> Flow[Run]:
    """A run by id; ``token`` is the read token of a run made without an account."""
    resp = yield Call("GET", run_path(run_id), params={"token": token} if token else None)
    return core.run(resp.json())


def cancel(core: Core, run_id: str) -> Flow[Run]:
    resp = yield Call("POST", f"{run_path(run_id)}/cancel")
    return core.run(resp.json())


def feedback(run: str | Run, rating: str | int | None, label: str | None, comment: str) -> Flow[dict[str, Any]]:
    """What the caller says of a run; a run made without an account is given with its token."""
    run_id, token = (run, None) if isinstance(run, str) else (run.id, run.token)
    body: dict[str, Any] = {"rating": rating, "label": label, "comment": comment}
    resp = yield Call("POST", f"{run_path(run_id)}/feedback", json=body,
                      params={"token": token} if token else None)
    answer: dict[str, Any] = resp.json()
    return answer


def runs(core: Core, model: str | None, limit: int) -> Flow[list[Run]]:
    """The caller's runs, newest first, following cursors until `limit` are found."""
    if limit < 1:
        raise InvalidInput(f"limit must be at least 1, got {limit}", field="limit")
    if model is not None:
        model_path(model)  # the same owner/name check every other call makes
    found: list[Run] = []
    cursor, seen = None, set()
    while len(found) < limit:
        params: dict[str, Any] = {"limit": min(limit - len(found), PAGE_MAX)}
        if model:
            params["model"] = model
        if cursor:
            params["cursor"] = cursor
        page = (yield Call("GET", "/v1/runs", params=params)).json()
        found.extend(core.run(item) for item in page.get("items") or [])
        cursor = page.get("next_cursor")
        if not cursor or cursor in seen:  # a repeated cursor would loop forever
            break
        seen.add(cursor)
    return found[:limit]


def models(core: Core) -> Flow[list[dict[str, Any]]]:
    items: list[dict[str, Any]] = []
    cursor, seen = None, set()
    while True:
        page = (yield Call("GET", "/v1/models", params={"cursor": cursor} if cursor else None)).json()
        items.extend(page.get("items") or [])
        cursor = page.get("next_cursor")
        if not cursor or cursor in seen:
            return items
        seen.add(cursor)


def delete(core: Core, ref: str) -> Flow[None]:
    yield Call("DELETE", model_path(ref))
    core.models.pop(ref, None)


def deploy(core: Core, ref: str, version: int | None, follow: str | None) -> Flow[dict[str, Any]]:
    ref, version = split_ref(ref, version)
    body = {k: v for k, v in (("version", version), ("follow", follow)) if v is not None}
    if not body:
        raise InvalidInput("deploy needs a version, or follow='latest' or 'pinned'", field="version")
    answer: dict[str, Any] = (yield Call("PUT", f"{model_path(ref)}/deployment", json=body)).json()
    core.models.pop(ref, None)  # the manifest that input checks compare against may have changed
    return answer


def get_json(path: str) -> Flow[Any]:
    return (yield Call("GET", path)).json()


# Publishing: upload a bundle, follow its build log, wait until it is ready
_CHUNK = 64 * 1024
BUILDING = frozenset({"building", "pending", "queued"})  # a build log that may still grow
REGISTRY_LAG = 10.0  # seconds a just-uploaded version may still be unknown to the gateway


def publish(core: Core, app_path: str | os.PathLike[str],
            progress: Callable[[int, int], None] | None) -> Flow[dict[str, Any]]:
    """Validate and pack app.py locally, then upload it; progress(sent, total) in bytes."""
    bundle = pack(app_path)
    boundary = uuid.uuid4().hex
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="bundle"; '
            f'filename="bundle.tar.gz"\r\nContent-Type: application/gzip\r\n\r\n').encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    chunks = [head, *(bundle[i:i + _CHUNK] for i in range(0, len(bundle), _CHUNK)), tail]
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}",
               "Content-Length": str(sum(map(len, chunks)))}
    resp = yield Call("POST", "/v1/models", chunks=chunks, progress=progress, headers=headers)
    result: dict[str, Any] = resp.json()
    core.models.pop(f"{result.get('owner')}/{result.get('name')}", None)  # a new manifest
    return result


def wait_ready(core: Core, ref: str, version: int, timeout: float,
               on_status: Callable[[str], None] | None) -> Flow[dict[str, Any]]:
    """Poll until `version` is ready (returns the model) or failed (raises BuildFailed)."""
    start = time.monotonic()
    delay = 0.2
    while True:
        try:
            info = yield from fetch_model(core, ref)
        except NotFound:
            if time.monotonic() - start > REGISTRY_LAG:
                raise
            info = {}
        entry: dict[str, Any] = next(
            (v for v in info.get("versions") or [] if v.get("version") == version), {})
        status = entry.get("status", "pending")
        if on_status:
            on_status(status)
        if status == "ready":
            return info
        if status == "failed":
            reason = f": {entry['error']}" if entry.get("error") else ""
            try:
                log, _ = yield from build_log(ref, version, 0)
            except FeatherError:
                log = ""
            raise BuildFailed(f"build of {ref} version {version} failed{reason}", log=log)
        remaining = start + timeout - time.monotonic()
        if remaining <= 0:
            raise FeatherError(f"{ref} version {version} was not ready after "
                               f"{timeout:g}s (status: {status})")
        yield Sleep(min(delay, remaining))
        delay = min(delay * 1.5, 2.0)


def build_log_bytes(ref: str, version: int, offset: int) -> Flow[tuple[bytes, str | None]]:
    resp = yield Call("GET", f"{model_path(ref)}/versions/{int(version)}/build-log",
                      params={"offset": offset} if offset else None)
    return resp.content, resp.headers.get("X-Build-Status")


def build_log(ref: str, version: int, offset: int) -> Flow[tuple[str, str | None]]:
    data, status = yield from build_log_bytes(ref, version, offset)
    return data.decode("utf-8", "replace"), status


def stream_build_log(ref: str, version: int, timeout: float) -> Flow[str | None]:
    """Emit new log text as the build writes it; return the status it ended with."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")  # a chunk may end mid-character
    start, offset, delay = time.monotonic(), 0, 0.1
    while True:
        try:
            data, status = yield from build_log_bytes(ref, version, offset)
        except NotFound:
            if time.monotonic() - start > REGISTRY_LAG:
                raise
            data, status = b"", "pending"
        offset += len(data)
        text = decoder.decode(data)
        if text:
            yield Emit(text)
            delay = 0.1  # a build that is writing will likely write again soon
        if status not in BUILDING:
            rest = decoder.decode(b"", final=True)
            if rest:
                yield Emit(rest)
            return status
        if time.monotonic() - start > timeout:
            raise FeatherError(f"{ref} version {version} was not ready after {timeout:g}s "
                               f"(status: {status})")
        yield Sleep(delay)
        delay = min(delay * 1.5, 1.0)
