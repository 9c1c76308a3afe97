"""AWS Lambda entry point of a feather model image (the image's CMD is "feather_lambda.handler").

The model is loaded once per container, in Lambda's init phase, and every invocation runs one
step through feather.runtime: the same code the local workers run. Standard library only besides
the feather SDK copied into the image; the model's own requirements decide everything else.

Event:  {"run_id", "step", "inputs": {...}}, or "inputs_ref": {"s3": {"bucket", "key", "url"}}
        instead of "inputs" when they exceed the synchronous payload limit, and optionally
        "spill": {"s3": {"bucket", "key", "url"}, "limit": bytes} for outputs that would.
Answer: {"ok": true, "outputs": {...}, "predict_ms", "logs"}, with "outputs_ref":
        {"s3": {"bucket", "key"}} in place of "outputs" when they went through S3, or
        {"ok": false, "error", "traceback", "predict_ms", "logs"}.

References travel in their own fields, so an input or output that happens to be named "s3" is
never mistaken for one. The "url"s are presigned by the executor: the function's role needs no
S3 permission and this module needs no boto3.
"""
from __future__ import annotations

import io
import json
import os
import sys
import time
import traceback
import urllib.request
from typing import Any

import feather.runtime
from feather.runtime import StepError

SYNC_LIMIT = 6 * 1024 * 1024  # what RequestResponse can return; the event may lower it
LOG_LIMIT = 64 * 1024  # characters of captured output sent back per call (the tail), as locally
HTTP_TIMEOUT_S = 120
APP = os.environ.get("FEATHER_APP") or os.path.join(
    os.environ.get("LAMBDA_TASK_ROOT") or os.path.dirname(os.path.abspath(__file__)), "app", "app.py")


class _Tee(io.TextIOBase):
    """Copies print() output to CloudWatch (the real stream) and into the run's logs.

    Swapping sys.stdout per call is safe: a Lambda container runs one invocation at a time.
    """

    def __init__(self, stream: Any, parts: list[str]) -> None:
        self.stream, self.parts = stream, parts

    def write(self, s: str) -> int:
        self.parts.append(s)
        if len(self.parts) > 1000:  # bound the memory a chatty model takes: only the tail is sent
            self.parts[:] = ["".join(self.parts)[-LOG_LIMIT:]]
        return self.stream.write(s)

    def flush(self) -> None:
        self.stream.flush()

    def fileno(self) -> int:  # native libraries and faulthandler write to the descriptor directly
        return self.stream.fileno()


def _load() -> tuple[Any, dict[str, Any] | None]:
    # A model that cannot load answers every event with the reason, instead of Lambda's opaque
    # init error; the executor shows it like any failed run.
    try:
        os.chdir(os.path.dirname(APP))  # relative paths in model code resolve beside app.py
        return feather.runtime.load(APP), None
    except Exception as exc:
        return None, {"ok": False, "error": f"the model failed to load: {type(exc).__name__}: {exc}",
                      "traceback": traceback.format_exc()}


MODEL, LOAD_ERROR = _load()


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    if LOAD_ERROR is not None:
        return {**LOAD_ERROR, "predict_ms": 0.0, "logs": ""}
    parts: list[str] = []
    predict_ms = 0.0
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(saved[0], parts), _Tee(saved[1], parts)
    try:
        inputs = _download(event["inputs_ref"]) if "inputs_ref" in event else event.get("inputs") or {}
        started = time.perf_counter()
        try:
            outputs = MODEL.run(str(event.get("step", "")), inputs)
        finally:
            predict_ms = (time.perf_counter() - started) * 1000
        json.dumps(outputs, allow_nan=False)  # fail here, inside the answer, not in Lambda's encoder
        answer: dict[str, Any] = {"ok": True, "outputs": outputs}
    except StepError as exc:
        answer = {"ok": False, "error": exc.message, "traceback": exc.traceback}
    except Exception as exc:  # bad request, invalid inputs, a payload transfer: not the model's fault
        answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    finally:
        sys.stdout, sys.stderr = saved
    answer.update(predict_ms=predict_ms, logs="".join(parts)[-LOG_LIMIT:])
    if not answer["ok"]:
        return answer
    try:
        return _fit(answer, event.get("spill"))
    except Exception as exc:
        return {"ok": False, "error": f"the outputs could not be sent through S3: {type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(), "predict_ms": predict_ms, "logs": answer["logs"]}


def _fit(answer: dict[str, Any], spill: dict[str, Any] | None) -> dict[str, Any]:
    """The answer as is when it fits in a synchronous reply, else its outputs go through S3."""
    limit = int((spill or {}).get("limit") or SYNC_LIMIT)
    size = len(json.dumps(answer))  # ASCII-escaped, as the runtime client sends it: the larger form
    if size <= limit:
        return answer
    rest = {k: v for k, v in answer.items() if k != "outputs"}
    if not spill:
        return {**rest, "ok": False, "traceback": "",
                "error": f"the outputs are {size / 2**20:.1f} MiB, more than a synchronous Lambda answer "
                         f"carries ({limit / 2**20:.1f} MiB), and no S3 bucket was given for them"}
    ref = spill["s3"]
    _request(ref["url"], data=json.dumps(answer["outputs"]).encode(), method="PUT")
    return {**rest, "outputs_ref": {"s3": {"bucket": ref["bucket"], "key": ref["key"]}}}


def _download(ref: dict[str, Any]) -> Any:
    return json.loads(_request(ref["s3"]["url"]))


def _request(url: str, data: bytes | None = None, method: str = "GET") -> bytes:
    # An explicit content type: urllib's default (form-encoded) makes some S3 servers parse the body.
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as resp:
        return resp.read()
