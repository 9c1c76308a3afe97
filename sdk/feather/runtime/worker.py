"""The warm worker process: `python -m feather.runtime.worker --app /path/app.py`.

Protocol (docs/wire.md): one JSON object per line, UTF-8. The worker writes
{"type": "ready"} (or {"type": "load_failed"} and exits 1), then answers each request line
{"id", "step", "inputs", "output_dir"} with any number of {"type": "progress"} lines, of
{"type": "output", "outputs"} lines (a generator step's outputs so far) and exactly one
{"type": "result"} line. A request {"id", "chain": true, "inputs", "choices",
"output_dir"} runs every step in order; its result also carries "steps". A request {"id", "step",
"batch": [{"id", "inputs"}, ...], "output_dir"} gives a batch step several runs at once; its
result carries "results", one {"id", "ok", ...} per run, in order. EOF on stdin ends it.
Standard library only.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from .._manifest import resolve_app
from . import LoadedModel, StepError, load

LOG_LIMIT = 64 * 1024  # bytes of captured output kept per call
PROGRESS_INTERVAL = 0.05  # seconds; a tight loop calling progress must not flood the pipe
OUTPUT_INTERVAL = 0.05  # seconds between a generator step's partial outputs
MAX_PARTIAL_BYTES = 1 << 20  # a larger partial output is not sent: the result will carry it


class _LogSink(io.TextIOBase):
    """Stands in for sys.stdout/sys.stderr: captures during a call, else goes to stderr.

    Installed before app.py is imported, so loggers that grabbed sys.stderr at
    import time are captured too.
    """

    def __init__(self, passthrough: Any) -> None:
        self._passthrough = passthrough
        self._parts: list[str] | None = None
        self._size = 0

    def start(self) -> None:
        self._parts, self._size = [], 0

    def stop(self) -> str:
        text, self._parts = "".join(self._parts or ()), None
        data = text.encode("utf-8", "replace")
        if len(data) <= LOG_LIMIT:
            return text
        # Keep the tail: the last lines before a failure are the useful ones.
        tail = data[-LOG_LIMIT:].decode("utf-8", "ignore")
        return f"[{len(data) - LOG_LIMIT} bytes of earlier output dropped]\n{tail}"

    def write(self, s: str) -> int:
        if self._parts is None:
            return int(self._passthrough.write(s))
        self._parts.append(s)
        self._size += len(s)
        if self._size > 4 * LOG_LIMIT:  # bound memory for chatty models
            keep = "".join(self._parts)[-2 * LOG_LIMIT:]
            self._parts, self._size = [keep], len(keep)
        return len(s)

    def flush(self) -> None:
        self._passthrough.flush()

    def fileno(self) -> int:
        return 2

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    @property
    def buffer(self) -> Any:
        # Code writing bytes goes straight to stderr (uncaptured) rather than crashing.
        return self._passthrough.buffer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m feather.runtime.worker")
    parser.add_argument("--app", required=True, help="path to the model's app.py")
    args = parser.parse_args(argv)

    # Keep the real stdout/stdin for the protocol only; model code gets stderr and /dev/null,
    # so neither print() nor input() nor native libraries can corrupt the pipes.
    proto_out, proto_in = os.dup(1), os.dup(0)
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sink = _LogSink(sys.__stderr__)
    sys.stdout = sys.stderr = sink  # type: ignore[assignment]

    lock = threading.Lock()  # a step's own threads may report progress while we answer

    def send(message: dict[str, Any]) -> None:
        data = (json.dumps(message, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
        with lock:
            view = memoryview(data)
            while view:
                view = view[os.write(proto_out, view):]

    try:
        app = resolve_app(args.app)  # accepts the folder too
        os.chdir(os.path.dirname(app))  # relative paths in model code resolve beside app.py
        loaded = load(app)
    except Exception as exc:
        send({"type": "load_failed", "error": f"{type(exc).__name__}: {exc}",
              "traceback": traceback.format_exc()})
        return 1
    send({"type": "ready", "load_ms": loaded.load_ms})

    with os.fdopen(proto_in, "rb") as requests:
        for line in requests:
            if line.strip():
                send(_handle(loaded, line, sink, send))
    return 0


def _handle(loaded: LoadedModel, line: bytes, sink: _LogSink,
            send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    started = time.perf_counter()
    request_id = None
    sink.start()
    progress = None
    try:
        request = json.loads(line)
        if not isinstance(request, dict):
            raise ValueError("a request must be a JSON object")
        request_id = request.get("id")
        output_dir = request.get("output_dir")
        if output_dir is not None and not (isinstance(output_dir, str) and os.path.isdir(output_dir)):
            raise ValueError(f"output_dir {output_dir!r} is not an existing folder")
        progress = _ProgressSender(request_id, send)
        partial = _OutputSender(request_id, send)
        if request.get("chain"):
            chained = loaded.run_chain(request.get("inputs") or {}, request.get("choices") or {},
                                       output_dir=output_dir, on_progress=progress, on_output=partial)
            answer: dict[str, Any] = {"ok": True, **chained}
        elif isinstance(runs := request.get("batch"), list):
            answers = loaded.run_batch(request.get("step", ""), [r.get("inputs") if isinstance(r, dict) else None
                                                                 for r in runs],
                                       output_dir=output_dir, on_progress=progress)
            answer = {"ok": True, "results": [{"id": r.get("id") if isinstance(r, dict) else None, **a}
                                              for r, a in zip(runs, answers, strict=True)]}
        else:
            outputs = loaded.run(request.get("step", ""), request.get("inputs") or {},
                                 output_dir=output_dir, on_progress=progress, on_output=partial)
            answer = {"ok": True, "outputs": outputs}
        json.dumps(answer, allow_nan=False)  # fail here, inside the result, not in send()
    except StepError as exc:
        answer = {"ok": False, "error": exc.message, "traceback": exc.traceback}
        if exc.step is not None:
            answer["step"] = exc.step
    except Exception as exc:  # bad request or invalid inputs: not the model's fault
        answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": ""}
    finally:
        if progress is not None:
            progress.close()  # late reports from the step's threads must not follow the result
    logs = sink.stop()
    return {"type": "result", "id": request_id, **answer,
            "predict_ms": (time.perf_counter() - started) * 1000, "logs": logs}


class _ProgressSender:
    """Turns `feather.progress` calls into protocol lines, at most one per interval.

    A report is dropped only when one with the same message went out less than
    PROGRESS_INTERVAL ago; the first, every new message and the first reaching fraction 1
    go out at once. After `close` (the result is on its way) reports are ignored.
    """

    def __init__(self, request_id: Any, send: Callable[[dict[str, Any]], None]) -> None:
        self._id, self._send = request_id, send
        self._last_at, self._last_message = 0.0, ""
        self._last_fraction: float | None = None
        self._open = True
        self._lock = threading.Lock()  # check-and-send must not interleave with close()

    def __call__(self, fraction: float | None, message: str) -> None:
        with self._lock:
            now = time.monotonic()
            finishing = fraction == 1.0 and self._last_fraction != 1.0
            if not self._open or (message == self._last_message and not finishing
                                  and now - self._last_at < PROGRESS_INTERVAL):
                return
            self._last_at, self._last_message, self._last_fraction = now, message, fraction
            self._send({"type": "progress", "id": self._id, "fraction": fraction,
                        "message": message})

    def close(self) -> None:
        with self._lock:
            self._open = False


class _OutputSender:
    """A generator step's outputs so far as protocol lines, at most one per OUTPUT_INTERVAL
    (encoded only when sent). The result carries the whole output, so what a pause drops is
    only a view that the next one, or the result, replaces."""

    def __init__(self, request_id: Any, send: Callable[[dict[str, Any]], None]) -> None:
        self._id, self._send = request_id, send
        self._last_at = 0.0

    def __call__(self, encode: Callable[[], dict[str, Any]]) -> None:
        now = time.monotonic()
        if now - self._last_at < OUTPUT_INTERVAL:
            return
        self._last_at = now
        try:
            message = {"type": "output", "id": self._id, "outputs": encode()}
            size = len(json.dumps(message, allow_nan=False))
        except (TypeError, ValueError):  # an output not yet whole: the next yield may be
            return
        if size <= MAX_PARTIAL_BYTES:
            self._send(message)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
