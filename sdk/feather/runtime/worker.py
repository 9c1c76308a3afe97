"""The warm worker process: `python -m feather.runtime.worker --app /path/app.py`.

Protocol: one JSON object per line, UTF-8. The worker writes {"type": "ready"}
(or {"type": "load_failed"} and exits 1), then answers each request line
{"id", "step", "inputs"} with one {"type": "result"} line. EOF on stdin ends it.
Standard library only.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import traceback
from typing import Any

from .._manifest import resolve_app
from . import LoadedModel, StepError, load

LOG_LIMIT = 64 * 1024  # bytes of captured output kept per call


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
            return self._passthrough.write(s)
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

    def send(message: dict[str, Any]) -> None:
        data = (json.dumps(message, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
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
                send(_handle(loaded, line, sink))
    return 0


def _handle(loaded: LoadedModel, line: bytes, sink: _LogSink) -> dict[str, Any]:
    started = time.perf_counter()
    request_id = None
    sink.start()
    try:
        request = json.loads(line)
        if not isinstance(request, dict):
            raise ValueError("a request must be a JSON object")
        request_id = request.get("id")
        outputs = loaded.run(request.get("step", ""), request.get("inputs") or {})
        json.dumps(outputs, allow_nan=False)  # fail here, inside the result, not in send()
        answer: dict[str, Any] = {"ok": True, "outputs": outputs}
    except StepError as exc:
        answer = {"ok": False, "error": exc.message, "traceback": exc.traceback}
    except Exception as exc:  # bad request or invalid inputs: not the model's fault
        answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": ""}
    logs = sink.stop()
    return {"type": "result", "id": request_id, **answer,
            "predict_ms": (time.perf_counter() - started) * 1000, "logs": logs}


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
