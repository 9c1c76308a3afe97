"""AWS Lambda backend: one synchronous invoke per step of a model whose image the builder deployed.

The function runs the same feather.runtime handler as the local workers (see
services/builder/templates/feather_lambda.py for the event and answer). What differs is transport:
- a synchronous invoke carries at most 6 MB each way, so bigger inputs and outputs go through the
  S3 bucket as presigned references (the function's role needs no S3 access);
- the function reads no blob store, so stored input files travel inline as data: URLs, and the
  files a step returns come back inline and are stored as blobs, as a local run's are;
- `RequestResponse` answers 200 even when the function crashed: `FunctionError` says so.
"""
from __future__ import annotations

import asyncio
import base64
import json
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from services.contracts.files import (SCHEME, blob_key, content_type_of, data_url_bytes, file_id, files_in,
                                      new_file_id)
from services.executor.backends.port import Backend, StepCall, StepOutcome
from services.kit.blobs import BlobNotFound, BlobStore

SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
THROTTLED = frozenset({"TooManyRequestsException"})  # the function did not run: safe to try again
PAYLOAD_PREFIX = "lambda-payloads"  # give it a bucket lifecycle rule: runs cut short leave objects


class Failed(Exception):
    """Ends the step as failed with this message."""


def _aws_error(exc: ClientError) -> tuple[str, str]:
    error = exc.response.get("Error", {})
    return str(error.get("Code", "")), str(error.get("Message", ""))


class LambdaBackend(Backend):
    def __init__(self, blobs: BlobStore, *, region: str = "us-east-1", session: Any = None,
                 endpoint_url: str | None = None, payload_bucket: str | None = None,
                 s3_endpoint_url: str | None = None, payload_limit: int = SYNC_PAYLOAD_LIMIT,
                 max_tries: int = 6, backoff_s: float = 0.25, max_backoff_s: float = 8.0,
                 max_concurrency: int = 64, lambda_client: Any = None) -> None:
        self.blobs = blobs
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
        # Each invoke holds a thread for the whole step; asyncio's default pool (cores + 4) would
        # cap concurrent runs far below what Lambda scales to.
        self._threads = ThreadPoolExecutor(max_concurrency, thread_name_prefix="lambda")
        self._cleanups: set[asyncio.Task[None]] = set()

    async def _thread(self, fn: Any, /, **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._threads, lambda: fn(**kwargs))

    async def run(self, call: StepCall) -> StepOutcome:
        used: list[str] = []  # payload objects to delete once the step is over
        try:
            return await asyncio.wait_for(self._step(call, used), timeout=call.deadline_s)
        except asyncio.TimeoutError:
            # The invocation goes on in AWS until the function's own timeout; nothing can stop it.
            return StepOutcome("timed_out", error=f"the run exceeded its deadline of {call.deadline_s:g}s")
        except Failed as exc:
            return StepOutcome("failed", error=str(exc))
        except BlobNotFound as exc:
            return StepOutcome("failed", error=f"an input file is no longer stored: {exc}")
        except ClientError as exc:
            code, message = _aws_error(exc)
            if code == "ResourceNotFoundException":
                message = f"the function of {call.model_id} version {call.version} does not exist: rebuild it"
            return StepOutcome("failed", error=f"AWS refused the call: {code}: {message}")
        except (BotoCoreError, OSError) as exc:
            return StepOutcome("failed", error=f"could not complete the AWS call: {exc}")
        finally:
            if used:  # in the background: a timed-out run answers now, not after S3 does
                task = asyncio.get_running_loop().create_task(self._delete(used))
                self._cleanups.add(task)
                task.add_done_callback(self._cleanups.discard)

    async def _step(self, call: StepCall, used: list[str]) -> StepOutcome:
        event: dict[str, Any] = {"run_id": call.run_id, "step": call.step,
                                 "inputs": await self._inline_files(call.inputs)}
        out_key = f"{PAYLOAD_PREFIX}/{call.run_id}/{uuid.uuid4().hex}-out.json"
        if self.bucket:
            event["spill"] = {"s3": await self._ref(out_key, "put_object", call), "limit": self.payload_limit}
        body = json.dumps(event).encode()
        if len(body) > self.payload_limit:
            if self.s3 is None:
                raise Failed(f"the inputs are {len(body) / 2**20:.1f} MiB, more than a synchronous Lambda call "
                             f"carries ({self.payload_limit / 2**20:.1f} MiB), and no S3 bucket is set for "
                             "bigger ones (FEATHER_S3_BUCKET)")
            in_key = out_key.replace("-out.json", "-in.json")
            used.append(in_key)
            await self._thread(self.s3.put_object, Bucket=self.bucket, Key=in_key, ContentType="application/json",
                               Body=json.dumps(event.pop("inputs")).encode())
            event["inputs_ref"] = {"s3": await self._ref(in_key, "get_object", call)}
            body = json.dumps(event).encode()
        response, payload = await self._invoke(call, body)
        if response.get("FunctionError"):
            return _function_error(str(response["FunctionError"]), payload)
        try:
            answer = json.loads(payload)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or "ok" not in answer:
            raise Failed("the Lambda function gave an answer that is not feather's")
        common: dict[str, Any] = {"logs": str(answer.get("logs") or ""),
                                  "predict_ms": float(answer.get("predict_ms") or 0.0)}
        if not answer["ok"]:
            return StepOutcome("failed", error=answer.get("error") or "the step failed",
                               details={"traceback": answer.get("traceback") or ""}, **common)
        outputs = answer.get("outputs")
        if "outputs_ref" in answer:
            # Only the key handed out for this call is read: model code must not pick other objects.
            if self.s3 is None or answer["outputs_ref"] != {"s3": {"bucket": self.bucket, "key": out_key}}:
                raise Failed("the Lambda function answered with an S3 reference it was not given")
            used.append(out_key)
            got = await self._thread(self.s3.get_object, Bucket=self.bucket, Key=out_key)
            outputs = json.loads(await self._thread(got["Body"].read))
        return StepOutcome("succeeded", outputs=await self._store_files(outputs or {}), **common)

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
                code, message = _aws_error(exc)
                if code not in THROTTLED:
                    raise
                if attempt == self.max_tries:
                    raise Failed(f"AWS Lambda throttled the call {attempt} times in "
                                 f"{time.monotonic() - started:.1f}s; giving up: {message}") from exc
                # exponential backoff with jitter, so throttled callers do not come back in step
                cap = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
                await asyncio.sleep(cap / 2 + random.uniform(0, cap / 2))
        raise Failed("no invoke was tried (max_tries < 1)")

    async def _ref(self, key: str, operation: str, call: StepCall) -> dict[str, str]:
        url = await self._thread(self.s3.generate_presigned_url, ClientMethod=operation,  # type: ignore[union-attr]
                                 Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=int(call.deadline_s) + 300)
        return {"bucket": str(self.bucket), "key": key, "url": url}

    async def _delete(self, keys: list[str]) -> None:
        for key in keys:
            try:
                await self._thread(self.s3.delete_object, Bucket=self.bucket, Key=key)  # type: ignore[union-attr]
            except (BotoCoreError, ClientError):
                pass  # the lifecycle rule on PAYLOAD_PREFIX removes what is left

    async def _inline_files(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """A copy of the inputs with each stored file (feather:files/...) inline as a data: URL."""
        copy = json.loads(json.dumps(inputs))  # the executor keeps using its own inputs afterwards
        for value in files_in(copy):
            fid = file_id(str(value["url"]))
            if fid is not None:
                data = base64.b64encode(await self.blobs.get(blob_key(fid))).decode("ascii")
                kind = value.get("content_type") or content_type_of(str(value.get("name") or fid))
                value["url"] = f"data:{kind};base64,{data}"
        return copy

    async def _store_files(self, outputs: dict[str, Any]) -> dict[str, Any]:
        """Files the step returned inline, stored as blobs: outputs name them as a local run's do."""
        for value in files_in(outputs):
            try:
                raw, kind = data_url_bytes(str(value["url"]))
            except ValueError:
                continue
            name = str(value.get("name") or "file")
            kind = kind or value.get("content_type") or content_type_of(name)
            fid = new_file_id(name)
            await self.blobs.put(blob_key(fid), raw, kind)
            value.update(url=SCHEME + fid, name=name, content_type=kind, size=len(raw))
        return outputs

    async def close(self) -> None:
        if self._cleanups:
            await asyncio.gather(*self._cleanups, return_exceptions=True)
        self._threads.shutdown(wait=False, cancel_futures=True)


def _function_error(kind: str, payload: bytes) -> StepOutcome:
    """The 200-with-error answer: Lambda's own report of a crash, a timeout or an unhandled error."""
    try:
        report = json.loads(payload)
    except ValueError:
        report = None
    report = report if isinstance(report, dict) else {}
    message = str(report.get("errorMessage") or payload[:500].decode(errors="replace") or kind)
    details = {"function_error": kind, "error_type": report.get("errorType"),
               "traceback": "".join(report.get("stackTrace") or [])}
    return StepOutcome("timed_out" if "Task timed out" in message else "failed", error=message, details=details)
