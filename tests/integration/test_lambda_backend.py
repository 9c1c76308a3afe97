"""The Lambda execution backend: how invoke answers become step outcomes.

Invoke is stubbed (botocore's Stubber on a real client, or a small client object that runs the
image's handler module in this process); S3, for payloads over the limit, is a moto server.
"""
from __future__ import annotations

import asyncio
import base64
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from conftest_lambda import MotoAws, aws, lambda_unverified_summary, load_handler, write_app  # noqa: F401
from services.executor.backends import aws_lambda
from services.executor.backends.aws_lambda import LambdaBackend
from services.executor.backends.port import StepCall
from services.kit.blobs import BlobStore, LocalBlobStore

RUNTIME = {"backend": "lambda", "function_name": "feather_local_echo", "function_version": "3",
           "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:feather_local_echo:3",
           "region": "us-east-1"}
EXPECTED = {"FunctionName": "feather_local_echo", "Qualifier": "3", "InvocationType": "RequestResponse",
            "Payload": ANY}


def step(inputs: dict[str, Any] | None = None, *, deadline_s: float = 30.0) -> StepCall:
    return StepCall("run-1", "local/echo", 3, "echo", inputs or {"text": "hi"}, RUNTIME, deadline_s)


@pytest.fixture
async def blobs(tmp_path: Path) -> BlobStore:
    store = LocalBlobStore(str(tmp_path / "blobs"))
    await store.start()
    return store


def body(value: Any) -> StreamingBody:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


@pytest.fixture
def stub(aws: MotoAws, blobs: BlobStore) -> Any:
    client = aws.session.client("lambda", endpoint_url=aws.endpoint)
    with Stubber(client) as stubber:
        stubber.blobs = blobs  # type: ignore[attr-defined]
        yield stubber
        stubber.assert_no_pending_responses()  # every scripted answer was asked for


def stubbed_backend(aws: MotoAws, stub: Stubber, **kwargs: Any) -> LambdaBackend:
    kwargs.setdefault("backoff_s", 0.02)
    return LambdaBackend(stub.blobs, session=aws.session, lambda_client=stub.client,  # type: ignore[attr-defined]
                         **kwargs)


def answer(stub: Stubber, payload: Any, function_error: str | None = None) -> None:
    response = {"StatusCode": 200, "Payload": body(payload), "ExecutedVersion": "3"}
    if function_error:
        response["FunctionError"] = function_error
    stub.add_response("invoke", response, EXPECTED)


async def test_success(aws: MotoAws, stub: Stubber) -> None:
    answer(stub, {"ok": True, "outputs": {"text": "hi"}, "predict_ms": 4.5, "logs": "echoing\n"})
    outcome = await stubbed_backend(aws, stub).run(step())
    assert (outcome.status, outcome.outputs, outcome.predict_ms, outcome.logs) == \
        ("succeeded", {"text": "hi"}, 4.5, "echoing\n")


async def test_function_error_answered_with_200(aws: MotoAws, stub: Stubber) -> None:
    answer(stub, {"errorMessage": "Runtime exited with error: signal: killed", "errorType": "Runtime.ExitError",
                  "stackTrace": ["  File x\n", "  line 2\n"]}, function_error="Unhandled")
    answer(stub, {"errorMessage": "2026-11-27T13:00:00Z 1a2b Task timed out after 300.00 seconds"},
           function_error="Unhandled")
    answer(stub, b"not json at all", function_error="Unhandled")
    backend = stubbed_backend(aws, stub)

    crashed = await backend.run(step())
    assert (crashed.status, crashed.error) == ("failed", "Runtime exited with error: signal: killed")
    assert crashed.details == {"function_error": "Unhandled", "error_type": "Runtime.ExitError",
                               "traceback": "  File x\n  line 2\n"}
    timed_out = await backend.run(step())
    assert timed_out.status == "timed_out" and "Task timed out after 300.00 seconds" in (timed_out.error or "")
    garbled = await backend.run(step())
    assert (garbled.status, garbled.error) == ("failed", "not json at all")


async def test_the_handler_reports_a_failed_step(aws: MotoAws, stub: Stubber) -> None:
    answer(stub, {"ok": False, "error": "ValueError: bad", "traceback": "Traceback ...\nValueError: bad\n",
                  "predict_ms": 2.0, "logs": "about to fail\n"})
    answer(stub, {"something": "else"})
    backend = stubbed_backend(aws, stub)
    outcome = await backend.run(step())
    assert (outcome.status, outcome.error, outcome.logs, outcome.predict_ms) == \
        ("failed", "ValueError: bad", "about to fail\n", 2.0)
    assert outcome.details["traceback"].endswith("ValueError: bad\n")
    odd = await backend.run(step())
    assert odd.status == "failed" and "not feather's" in (odd.error or "")


class RecordedRandom:
    """Jitter at its top value, with each bound kept, so the backoff sequence can be checked."""

    def __init__(self) -> None:
        self.bounds: list[float] = []

    def uniform(self, low: float, high: float) -> float:
        self.bounds.append(high)
        return high


async def test_throttling_is_retried_with_backoff(aws: MotoAws, stub: Stubber,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    jitter = RecordedRandom()
    monkeypatch.setattr(aws_lambda, "random", jitter)
    for _ in range(3):
        stub.add_client_error("invoke", service_error_code="TooManyRequestsException",
                              service_message="Rate exceeded", http_status_code=429, expected_params=EXPECTED)
    answer(stub, {"ok": True, "outputs": {"text": "hi"}, "predict_ms": 1.0})
    started = time.monotonic()
    outcome = await stubbed_backend(aws, stub, backoff_s=0.04, max_backoff_s=0.1).run(step())
    assert outcome.status == "succeeded" and outcome.outputs == {"text": "hi"}
    assert jitter.bounds == [0.02, 0.04, 0.05]  # half of each cap is fixed: 0.04, 0.08, then capped at 0.1
    assert time.monotonic() - started >= 0.04 + 0.08 + 0.1


async def test_throttling_gives_up_after_max_tries(aws: MotoAws, stub: Stubber) -> None:
    for _ in range(3):
        stub.add_client_error("invoke", service_error_code="TooManyRequestsException",
                              service_message="Rate exceeded", http_status_code=429, expected_params=EXPECTED)
    outcome = await stubbed_backend(aws, stub, max_tries=3).run(step())
    assert outcome.status == "failed"
    assert (outcome.error or "").startswith("AWS Lambda throttled the call 3 times in ")
    assert (outcome.error or "").endswith("giving up: Rate exceeded")


async def test_other_refusals_fail_at_once(aws: MotoAws, stub: Stubber) -> None:
    stub.add_client_error("invoke", service_error_code="ResourceNotFoundException", http_status_code=404,
                          service_message="Function not found", expected_params=EXPECTED)
    stub.add_client_error("invoke", service_error_code="AccessDeniedException", http_status_code=403,
                          service_message="not allowed", expected_params=EXPECTED)
    backend = stubbed_backend(aws, stub)
    missing = await backend.run(step())
    assert missing.status == "failed" and missing.error == (
        "AWS refused the call: ResourceNotFoundException: the function of local/echo version 3 does not exist: "
        "rebuild it")
    denied = await backend.run(step())
    assert denied.error == "AWS refused the call: AccessDeniedException: not allowed"


class SlowLambda:
    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        time.sleep(2.0)
        return {"StatusCode": 200, "Payload": io.BytesIO(b'{"ok": true, "outputs": {}}')}


async def test_deadline_bounds_the_whole_call(blobs: BlobStore) -> None:
    backend = LambdaBackend(blobs, lambda_client=SlowLambda(), region="us-east-1")
    started = time.monotonic()
    outcome = await backend.run(step(deadline_s=0.2))
    assert outcome.status == "timed_out" and outcome.error == "the run exceeded its deadline of 0.2s"
    assert time.monotonic() - started < 1.0
    await backend.close()


class LoopbackLambda:
    """Invokes the image's handler module in this process, and enforces the payload limit both
    ways as the Lambda service does."""

    def __init__(self, handler: Any, limit: int, reply: Any = None) -> None:
        self.handler, self.limit, self.reply = handler, limit, reply
        self.events: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        assert len(kwargs["Payload"]) <= self.limit, "Lambda refuses this request (RequestEntityTooLarge)"
        event = json.loads(kwargs["Payload"])
        self.events.append(event)
        result = self.reply(event) if self.reply else self.handler(event, None)
        self.answers.append(result)
        raw = json.dumps(result).encode()
        assert len(raw) <= self.limit, "Lambda fails an answer this big"
        return {"StatusCode": 200, "Payload": io.BytesIO(raw)}


def payload_keys(aws: MotoAws, bucket: str) -> list[str]:
    listed = aws.client("s3").list_objects_v2(Bucket=bucket, Prefix=aws_lambda.PAYLOAD_PREFIX + "/")
    return [obj["Key"] for obj in listed.get("Contents", [])]


async def test_payloads_over_the_limit_go_through_s3(aws: MotoAws, blobs: BlobStore, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    handler = load_handler(write_app(tmp_path / "app"), monkeypatch).handler
    bucket, limit = aws.bucket(), 64 * 1024
    fake = LoopbackLambda(handler, limit)
    backend = LambdaBackend(blobs, session=aws.session, lambda_client=fake, payload_bucket=bucket,
                            s3_endpoint_url=aws.endpoint, payload_limit=limit)

    small = await backend.run(step({"text": "hi"}))
    assert small.status == "succeeded" and small.outputs == {"text": "hi"}
    assert fake.events[-1]["inputs"] == {"text": "hi"} and "outputs" in fake.answers[-1]
    assert fake.events[-1]["spill"]["limit"] == limit and payload_keys(aws, bucket) == []

    text = "é" * (100 * 1024)  # escaped to six bytes each in JSON: well over the limit both ways
    big = await backend.run(step({"text": text}))
    assert big.status == "succeeded" and big.outputs == {"text": text}
    event, reply = fake.events[-1], fake.answers[-1]
    assert "inputs" not in event and set(event["inputs_ref"]["s3"]) == {"bucket", "key", "url"}
    assert "outputs" not in reply and reply["outputs_ref"]["s3"]["bucket"] == bucket
    assert big.logs == f"echoing {len(text)} characters\n"
    await backend.close()  # waits for the payload objects' removal
    assert payload_keys(aws, bucket) == []

    no_bucket = LambdaBackend(blobs, session=aws.session, lambda_client=fake, payload_limit=limit)
    refused = await no_bucket.run(step({"text": text}))
    assert refused.status == "failed" and "no S3 bucket is set for bigger ones" in (refused.error or "")
    assert len(fake.events) == 2  # nothing was sent


async def test_only_the_s3_key_handed_out_is_read(aws: MotoAws, blobs: BlobStore) -> None:
    bucket = aws.bucket()
    aws.client("s3").put_object(Bucket=bucket, Key="files/secret", Body=b'{"text": "not yours"}')
    fake = LoopbackLambda(None, 10**6, reply=lambda event: {
        "ok": True, "outputs_ref": {"s3": {"bucket": bucket, "key": "files/secret"}}})
    backend = LambdaBackend(blobs, session=aws.session, lambda_client=fake, payload_bucket=bucket,
                            s3_endpoint_url=aws.endpoint)
    outcome = await backend.run(step())
    assert outcome.status == "failed" and outcome.outputs is None
    assert "S3 reference it was not given" in (outcome.error or "")


async def test_files_travel_inline_and_come_back_as_stored_files(aws: MotoAws, blobs: BlobStore) -> None:
    await blobs.put("files/abc/cat.png", b"\x89PNG-input", "image/png")
    inputs = {"image": {"url": "feather:files/abc/cat.png", "name": "cat.png", "content_type": "image/png"}}
    produced = "data:image/png;base64," + base64.b64encode(b"\x89PNG-output").decode()
    fake = LoopbackLambda(None, 10**6, reply=lambda event: {"ok": True, "outputs": {"image": {
        "url": produced, "name": "out.png", "content_type": "image/png", "size": 11}}})
    backend = LambdaBackend(blobs, session=aws.session, lambda_client=fake)

    outcome = await backend.run(step(inputs))

    sent = fake.events[0]["inputs"]["image"]
    assert sent["url"] == "data:image/png;base64," + base64.b64encode(b"\x89PNG-input").decode()
    assert inputs["image"]["url"] == "feather:files/abc/cat.png"  # the executor's own copy is left as it was
    image = (outcome.outputs or {})["image"]
    assert image["url"].startswith("feather:files/") and image["url"].endswith("/out.png")
    assert (image["size"], image["content_type"], image["name"]) == (11, "image/png", "out.png")
    assert await blobs.get("files/" + image["url"].removeprefix("feather:files/")) == b"\x89PNG-output"

    missing = await backend.run(step({"image": {"url": "feather:files/gone/x.png", "name": "x.png"}}))
    assert missing.status == "failed" and "no longer stored" in (missing.error or "")
    assert len(fake.events) == 1  # nothing was invoked for it


async def test_many_calls_run_at_once(blobs: BlobStore) -> None:
    class Counting:
        active = peak = 0

        def invoke(self, **kwargs: Any) -> dict[str, Any]:
            Counting.active += 1
            Counting.peak = max(Counting.peak, Counting.active)
            time.sleep(0.2)
            Counting.active -= 1
            return {"StatusCode": 200, "Payload": io.BytesIO(b'{"ok": true, "outputs": {}}')}

    backend = LambdaBackend(blobs, lambda_client=Counting(), region="us-east-1", max_concurrency=32)
    outcomes = await asyncio.gather(*(backend.run(step()) for _ in range(24)))
    assert all(o.status == "succeeded" for o in outcomes)
    assert Counting.peak == 24  # not capped by asyncio's small default thread pool
    await backend.close()
