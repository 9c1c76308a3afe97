"""AWS Lambda backend: one synchronous invoke per step of a model whose image the builder deployed.

The function runs the same feather.runtime handler as the local workers (see
services/builder/templates/feather_lambda.py for the event and answer). What differs is transport:
- a synchronous invoke carries at most 6 MB each way, so bigger inputs and outputs go through the
  S3 payload bucket as presigned references (the function's role needs no S3 access);
- the function cannot read the executor's disk, so input files travel inline as data: URLs, and
  output files come back inline and are written into the run's output folder like a worker's;
- `RequestResponse` answers 200 even when the function crashed: `FunctionError` says so.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import re
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote_to_bytes

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from services.contracts.files import content_type_of, file_values
from services.executor.backends.port import Backend, StepCall, StepOutcome

SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
THROTTLED = frozenset({"TooManyRequestsException"})  # the function did not run: safe to try again
PAYLOAD_PREFIX = "lambda-payloads"  # give it a bucket lifecycle rule: runs cut short leave objects


class Throttled(Exception):
    pass


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class LambdaBackend(Backend):
    def __init__(self, *, region: str = "us-east-1", session: Any = None, endpoint_url: str | None = None,
                 payload_bucket: str | None = None, s3_endpoint_url: str | None = None,
                 payload_limit: int = SYNC_PAYLOAD_LIMIT, max_tries: int = 6, backoff_s: float = 0.25,
                 max_backoff_s: float = 8.0, max_concurrency: int = 64, lambda_client: Any = None) -> None:
        session = session or boto3.Session()
        # A step may run for Lambda's full 15 minutes, so the read timeout outlasts it; botocore must
        # not retry an invoke by itself (that could run the model twice): throttling is retried here.
        config = Config(read_timeout=960, connect_timeout=10, retries={"total_max_attempts": 1},
                        max_pool_connections=max_concurrency)
        self.lam = lambda_client or session.client("lambda", region_name=region, endpoint_url=endpoint_url,
                                                   config=config)
        self.s3 = session.client("s3", region_name=region, endpoint_url=s3_endpoint_url,
                                 config=Config(signature_version="s3v4")) if payload_bucket else None
        self.bucket = payload_bucket
        self.payload_limit = payload_limit
        self.max_tries, self.backoff_s, self.max_backoff_s = max_tries, backoff_s, max_backoff_s
        # Each invoke holds a thread for the whole step; the default pool (cores + 4) would cap
        # concurrent runs far below what Lambda scales to.
        self._threads = ThreadPoolExecutor(max_concurrency, thread_name_prefix="lambda")
        self._cleanups: set[asyncio.Task[None]] = set()

    async def _thread(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._threads, lambda: fn(*args, **kwargs))

    async def run(self, call: StepCall) -> StepOutcome:
        try:
            return await asyncio.wait_for(self._run(call), timeout=call.deadline_s)
        except asyncio.TimeoutError:
            # The invocation itself goes on in AWS until the function's own timeout.
            return StepOutcome("timed_out", error=f"the run exceeded its deadline of {call.deadline_s:g}s")

    async def _run(self, call: StepCall) -> StepOutcome:
        used: list[str] = []  # payload objects to delete once the step is over
        try:
            return await self._step(call, used)
        except Throttled as exc:
            return StepOutcome("failed", error=str(exc))
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                return StepOutcome("failed", error=f"the Lambda function of {call.model_id} version "
                                                   f"{call.version} does not exist: rebuild the version")
            return StepOutcome("failed", error=f"AWS Lambda refused the call: {_code(exc)}: "
                                               f"{exc.response.get('Error', {}).get('Message', '')}")
        except (BotoCoreError, OSError) as exc:
            return StepOutcome("failed", error=f"could not complete the AWS call: {exc}")
        finally:
            if used:
                task = asyncio.get_running_loop().create_task(self._delete(used))
                self._cleanups.add(task)
                task.add_done_callback(self._cleanups.discard)

    async def _step(self, call: StepCall, used: list[str]) -> StepOutcome:
        event: dict[str, Any] = {"run_id": call.run_id, "step": call.step,
                                 "inputs": await self._thread(_inline_files, call.inputs)}
        out_key = self._key(call, "out")
        if self.bucket:
            event["spill"] = {"s3": await self._ref(out_key, "put_object", call), "limit": self.payload_limit}
        body = json.dumps(event).encode()
        if len(body) > self.payload_limit:
            if not self.bucket:
                return StepOutcome("failed", error=f"the inputs are {len(body) / 2**20:.1f} MiB, more than a "
                                   f"synchronous Lambda call carries ({self.payload_limit / 2**20:.1f} MiB), "
                                   "and no S3 bucket is set for bigger ones (FEATHER_S3_BUCKET)")
            in_key = self._key(call, "in")
            used.append(in_key)
            await self._thread(self.s3.put_object, Bucket=self.bucket, Key=in_key,  # type: ignore[union-attr]
                               Body=json.dumps(event.pop("inputs")).encode(), ContentType="application/json")
            event["inputs_ref"] = {"s3": await self._ref(in_key, "get_object", call)}
            body = json.dumps(event).encode()
        response, payload = await self._invoke(call, body)
        if response.get("FunctionError"):
            return _function_error(str(response["FunctionError"]), payload)
        answer = json.loads(payload)
        if not isinstance(answer, dict) or "ok" not in answer:
            return StepOutcome("failed", error="the Lambda function gave an answer that is not feather's")
        common: dict[str, Any] = {"logs": str(answer.get("logs") or ""),
                                  "predict_ms": float(answer.get("predict_ms") or 0.0)}
        if not answer["ok"]:
            return StepOutcome("failed", error=answer.get("error") or "the step failed",
                               details={"traceback": answer.get("traceback") or ""}, **common)
        outputs = answer.get("outputs")
        if "outputs_ref" in answer:
            # Only the key handed out for this call is read: model code must not pick other objects.
            if answer["outputs_ref"] != {"s3": {"bucket": self.bucket, "key": out_key}}:
                return StepOutcome("failed", error="the Lambda function answered with an S3 reference "
                                                   "it was not given", **common)
            used.append(out_key)
            got = await self._thread(self.s3.get_object, Bucket=self.bucket, Key=out_key)  # type: ignore[union-attr]
            outputs = json.loads(await self._thread(got["Body"].read))
        outputs = await self._thread(_land_files, outputs or {}, call.output_dir)
        return StepOutcome("succeeded", outputs=outputs, **common)

    async def _invoke(self, call: StepCall, body: bytes) -> tuple[dict[str, Any], bytes]:
        args: dict[str, Any] = {"FunctionName": call.runtime["function_name"],
                                "InvocationType": "RequestResponse", "Payload": body}
        if call.runtime.get("function_version"):  # the code built for this feather version
            args["Qualifier"] = str(call.runtime["function_version"])
        started = time.monotonic()
        for attempt in range(1, self.max_tries + 1):
            try:
                response = await self._thread(self.lam.invoke, **args)
                return response, await self._thread(response["Payload"].read)
            except ClientError as exc:
                if _code(exc) not in THROTTLED:
                    raise
                if attempt == self.max_tries:
                    raise Throttled(f"AWS Lambda throttled the call {attempt} times in "
                                    f"{time.monotonic() - started:.1f}s; giving up: "
                                    f"{exc.response.get('Error', {}).get('Message', '')}".rstrip(": ")) from exc
                # exponential backoff with jitter, so throttled callers do not come back in step
                cap = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
                await asyncio.sleep(cap / 2 + random.uniform(0, cap / 2))
        raise AssertionError("unreachable")

    def _key(self, call: StepCall, direction: str) -> str:
        return f"{PAYLOAD_PREFIX}/{call.run_id}/{uuid.uuid4().hex}-{direction}.json"

    async def _ref(self, key: str, operation: str, call: StepCall) -> dict[str, str]:
        url = await self._thread(self.s3.generate_presigned_url, operation,  # type: ignore[union-attr]
                                 Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=int(call.deadline_s) + 300)
        return {"bucket": str(self.bucket), "key": key, "url": url}

    async def _delete(self, keys: list[str]) -> None:
        for key in keys:
            try:
                await self._thread(self.s3.delete_object, Bucket=self.bucket, Key=key)  # type: ignore[union-attr]
            except (BotoCoreError, ClientError):
                pass  # the lifecycle rule on PAYLOAD_PREFIX removes what is left

    async def close(self) -> None:
        if self._cleanups:
            await asyncio.gather(*self._cleanups, return_exceptions=True)
        self._threads.shutdown(wait=False, cancel_futures=True)


def _function_error(kind: str, payload: bytes) -> StepOutcome:
    """The 200-with-error answer: Lambda's own report of a crash, a timeout or an unhandled error."""
    try:
        report = json.loads(payload)
    except ValueError:
        report = {}
    report = report if isinstance(report, dict) else {}
    message = str(report.get("errorMessage") or payload[:500].decode(errors="replace") or kind)
    details = {"function_error": kind, "error_type": report.get("errorType"),
               "traceback": "".join(report.get("stackTrace") or [])}
    status = "timed_out" if "Task timed out" in message else "failed"
    return StepOutcome(status, error=message, details=details)


def _inline_files(inputs: dict[str, Any]) -> dict[str, Any]:
    """A copy of the inputs with each materialized file (a local `path`) as a data: URL."""
    copy = json.loads(json.dumps(inputs))  # the executor keeps using its own inputs afterwards
    for value in file_values(copy):
        path = value.pop("path", None)
        if isinstance(path, str):
            with open(path, "rb") as fh:
                data = base64.b64encode(fh.read()).decode("ascii")
            kind = value.get("content_type") or content_type_of(str(value.get("name") or path))
            value["url"] = f"data:{kind};base64,{data}"
    return copy


def _land_files(outputs: dict[str, Any], output_dir: str | None) -> dict[str, Any]:
    """Output files as a local worker leaves them: files in the run's folder, named by `path`."""
    if output_dir is None:
        return outputs
    for value in file_values(outputs):
        head, sep, data = str(value["url"]).partition(",")
        if not head.startswith("data:") or not sep:
            continue
        raw = base64.b64decode(data) if head.endswith(";base64") else unquote_to_bytes(data)
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.basename(str(value.get("name") or "file")))[-100:]
        fd, target = tempfile.mkstemp(dir=output_dir, suffix="-" + name)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        value.pop("url")
        value.update(path=target, size=len(raw))
    return outputs
