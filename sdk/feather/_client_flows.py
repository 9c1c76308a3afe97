"""Runs and models as flows (see _client_base): written once for Client and AsyncClient."""
from __future__ import annotations

import math
import time
from typing import Any

from ._client_base import Call, Core, Emit, Flow, Sleep, model_path, run_path
from ._client_files import send_inputs
from ._client_run import Run
from .rules import newest_ready
from ._errors import InvalidInput, RunTimedOut
from ._wire_client import PendingFiles, input_specs, prepare, step_entry

FIRST_POLL, LAST_POLL = 0.05, 0.5  # seconds between polls: quick at first, then gentler
PAGE_MAX = 200  # the most items GET /v1/runs answers per page


def fetch_model(core: Core, ref: str) -> Flow[dict[str, Any]]:
    resp = yield Call("GET", model_path(ref))
    info: dict[str, Any] = resp.json()
    core.models[ref] = info  # every fetch refreshes what input checks compare against
    return info


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
    """The version whose manifest GET /v1/models/{ref} shows: the newest ready one."""
    newest = newest_ready((info or {}).get("versions") or [])
    latest = (info or {}).get("latest_version")
    return newest["version"] if newest else latest if isinstance(latest, int) else None


def start(core: Core, ref: str, inputs: dict[str, Any], *, version: int | None = None,
          step: str | None = None, previous_run: str | Run | None = None, chain: bool = False,
          choices: dict[str, dict[str, Any]] | None = None, wait: float | None = None) -> Flow[Run]:
    """POST a run; with `wait`, the server holds the answer up to that many seconds."""
    path = f"{model_path(ref)}/runs"
    sent = yield from prepare_inputs(core, ref, inputs, version=version, step=step,
                                     partial=previous_run is not None,
                                     pick_next=previous_run is not None and step is None)
    body: dict[str, Any] = {"inputs": sent}
    if isinstance(previous_run, Run):  # its read token, for a run made without an account
        if (token := previous_run.token) is not None:
            body["previous_run_token"] = token
        previous_run = previous_run.id
    for key, value in (("version", version), ("step", step), ("previous_run", previous_run)):
        if value is not None:
            body[key] = value
    if chain:
        body.update(chain=True, choices=choices or {})
    headers = {"Prefer": f"wait={math.ceil(wait)}"} if wait else {}
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


def get_json(path: str) -> Flow[Any]:
    return (yield Call("GET", path)).json()
