"""Publishing as flows: upload a bundle, follow its build log, wait until it is ready."""
from __future__ import annotations

import codecs
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from ._bundle import pack
from ._client_base import Call, Core, Emit, Flow, Sleep, model_path
from ._client_flows import fetch_model
from ._errors import BuildFailed, FeatherError, NotFound

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
