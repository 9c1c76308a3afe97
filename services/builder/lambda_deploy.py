"""The AWS side of a Lambda runtime: the ECR repository, registry login, the Lambda function.

One function per model. Each deploy updates its code and then publishes a Lambda version, and the
runtime names that version: runs of an older feather version keep invoking the code they were
built with while newer versions roll out. boto3 is synchronous, so every call runs in a thread.
"""
from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from services.builder.local_env import BuildError

Log = Callable[[str], None]
Conf = dict[str, Any]
# Lambda refuses a change while another is in progress; another builder replica may be making it.
BUSY = frozenset({"ResourceConflictException"})


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class LambdaDeployer:
    def __init__(self, *, region: str = "us-east-1", session: Any = None, endpoint_url: str | None = None,
                 architecture: str = "x86_64", wait_timeout_s: float = 900.0, poll_s: float = 2.0) -> None:
        session = session or boto3.Session()
        config = Config(retries={"mode": "standard", "max_attempts": 5})  # throttled control-plane calls
        self.ecr = session.client("ecr", region_name=region, endpoint_url=endpoint_url, config=config)
        self.lam = session.client("lambda", region_name=region, endpoint_url=endpoint_url, config=config)
        self.region = region
        self.architecture = architecture
        self.wait_timeout_s, self.poll_s = wait_timeout_s, poll_s
        self._locks: dict[str, asyncio.Lock] = {}

    async def _call(self, fn: Callable[..., Any], *, retry_on: frozenset[str] = frozenset(),
                    tries: int = 6, **kwargs: Any) -> Any:
        for attempt in range(tries):
            try:
                return await asyncio.to_thread(fn, **kwargs)
            except ClientError as exc:
                if error_code(exc) not in retry_on or attempt == tries - 1:
                    raise
                await asyncio.sleep(self.poll_s * 2 ** attempt)

    async def ensure_repository(self, name: str, log: Log) -> str:
        """The repository's URI, creating it the first time (idempotent)."""
        try:
            repo = (await self._call(self.ecr.create_repository, repositoryName=name))["repository"]
            log(f"created ECR repository {name}")
        except ClientError as exc:
            if error_code(exc) != "RepositoryAlreadyExistsException":
                raise
            repo = (await self._call(self.ecr.describe_repositories, repositoryNames=[name]))["repositories"][0]
        return str(repo["repositoryUri"])

    async def registry_auth(self) -> tuple[str, str, str]:
        """(registry URL, user, password) for `docker login`; the token lasts 12 hours."""
        data = (await self._call(self.ecr.get_authorization_token))["authorizationData"][0]
        user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        return str(data["proxyEndpoint"]), user, password

    async def image_digest(self, repository: str, tag: str) -> str:
        found = await self._call(self.ecr.describe_images, repositoryName=repository, imageIds=[{"imageTag": tag}])
        return str(found["imageDetails"][0]["imageDigest"])

    async def deploy(self, function_name: str, image_uri: str, role_arn: str, memory_mb: int,
                     timeout_s: int, log: Log) -> dict[str, Any]:
        """Create or update the function, publish a version, wait until it can run; the runtime."""
        settings = {"Role": role_arn, "MemorySize": memory_mb, "Timeout": timeout_s}
        async with self._locks.setdefault(function_name, asyncio.Lock()):  # one change at a time here
            current = await self._configuration(function_name)
            if current is None:
                try:
                    await self._call(self.lam.create_function, FunctionName=function_name, PackageType="Image",
                                     Code={"ImageUri": image_uri}, Architectures=[self.architecture],
                                     Description="feather model runtime", **settings)
                    log(f"created Lambda function {function_name}")
                except ClientError as exc:
                    if error_code(exc) != "ResourceConflictException":
                        raise
                    current = await self._configuration(function_name)  # another replica made it first
            if current is not None:
                await self.wait(function_name, "$LATEST", log, settled=_not_changing)
                if any(current.get(key) != value for key, value in settings.items()):
                    await self._call(self.lam.update_function_configuration, retry_on=BUSY,
                                     FunctionName=function_name, **settings)
                    await self.wait(function_name, "$LATEST", log, settled=_not_changing)
                await self._call(self.lam.update_function_code, retry_on=BUSY,
                                 FunctionName=function_name, ImageUri=image_uri)
                log(f"updated Lambda function {function_name} to {image_uri}")
            latest = await self.wait(function_name, "$LATEST", log)
            # CodeSha256 pins the version to the code just deployed, even if another update follows
            published = await self._call(self.lam.publish_version, retry_on=BUSY, FunctionName=function_name,
                                         CodeSha256=latest["CodeSha256"])
            version = str(published["Version"])
            ready = await self.wait(function_name, version, log)
        if "@" not in image_uri:  # deployed by tag: the digest Lambda resolved it to is what runs
            code = (await self._call(self.lam.get_function, FunctionName=function_name, Qualifier=version))["Code"]
            image_uri = str(code.get("ResolvedImageUri") or image_uri)
        _, at, digest = image_uri.rpartition("@")
        log(f"Lambda function {function_name} version {version} is active")
        return {"backend": "lambda", "function_name": function_name, "function_version": version,
                "function_arn": ready["FunctionArn"], "image_uri": image_uri,
                "image_digest": digest if at else None, "region": self.region}

    async def _configuration(self, function_name: str) -> Conf | None:
        try:
            return await self._call(self.lam.get_function_configuration, FunctionName=function_name)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise

    async def wait(self, function_name: str, qualifier: str, log: Log,
                   settled: Callable[[Conf], bool] | None = None) -> Conf:
        """Poll until the function (version) is Active with its last update Successful, or `settled`."""
        done = settled or _ready
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_timeout_s
        seen: tuple[Any, Any] | None = None
        while True:
            conf = await self._call(self.lam.get_function_configuration, FunctionName=function_name,
                                    Qualifier=qualifier)
            state, update = conf.get("State"), conf.get("LastUpdateStatus")
            if state == "Failed" or update == "Failed":
                reason = conf.get("StateReason") or conf.get("LastUpdateStatusReason") or "no reason given"
                code = conf.get("StateReasonCode") or conf.get("LastUpdateStatusReasonCode") or "Failed"
                raise BuildError(f"Lambda function {function_name}:{qualifier} failed: {code}: {reason}")
            if done(conf):
                return conf
            if (state, update) != seen:
                seen = (state, update)
                log(f"waiting for {function_name}:{qualifier} (state {state}, last update {update})")
            if loop.time() >= deadline:
                raise BuildError(f"Lambda function {function_name}:{qualifier} was not ready after "
                                 f"{self.wait_timeout_s:.0f}s (state {state}, last update {update})")
            await asyncio.sleep(self.poll_s)


def _ready(conf: Conf) -> bool:
    return conf.get("State") == "Active" and conf.get("LastUpdateStatus") in (None, "Successful")


def _not_changing(conf: Conf) -> bool:
    # before an update only an update in flight matters: an idle (Inactive) function is reactivated by it
    return conf.get("State") != "Pending" and conf.get("LastUpdateStatus") != "InProgress"
