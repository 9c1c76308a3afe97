"""AWS Lambda runtimes: one container image per model version, pushed to ECR, run by Lambda.

The image starts FROM the AWS Lambda Python base image. The model's requirements are installed
in a layer of their own before any code is copied, so a version whose requirements did not change
reuses that layer from the build cache and the push sends only the small code layer.
Pushing and deploying (``publish``) run apart from the Docker build, on an image digest already
in ECR, so they can be retried or tested without a Docker engine.
"""
from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import feather

from services.builder.domain import BUILD_TIMEOUT_S
from services.builder.lambda_deploy import LambdaDeployer
from services.builder.local_env import BuildError, unpack_code

Log = Callable[[str], None]
BASE_IMAGE = "public.ecr.aws/lambda/python"
DEFAULT_PYTHON = "3.11"  # what ModelPublished assumes when a bundle does not say
HANDLER_FILE = Path(__file__).resolve().parent / "templates" / "feather_lambda.py"
SDK_DIR = Path(feather.__file__).resolve().parent
PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}
_CLEAN_PART = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def lambda_python(python: str) -> str:
    """The base image tag for a model's Python: "3.12.4" and "3.12" both run on python:3.12."""
    match = re.fullmatch(r"3\.(\d+)(?:\.\d+)?", python.strip() or DEFAULT_PYTHON)
    if match is None or int(match.group(1)) < 9:
        raise BuildError(f"AWS Lambda has no base image for Python {python!r}: use 3.9 or later")
    return f"3.{int(match.group(1))}"


def clean_requirements(requirements: Iterable[str]) -> list[str]:
    """Non-blank, non-comment lines, first occurrence kept, order kept (pip options may need it)."""
    return list(dict.fromkeys(r.strip() for r in requirements if r.strip() and not r.strip().startswith("#")))


def render_dockerfile(python: str, requirements: list[str]) -> str:
    base = f"{BASE_IMAGE}:{lambda_python(python)}"
    lines: list[str] = []
    if clean_requirements(requirements):  # pip refuses an empty requirements file
        lines += [
            "# Wheels only, fetched in a stage of their own: no package's build code ever runs.",
            f"FROM {base} AS wheels",
            "COPY requirements.txt /wheels/requirements.txt",
            'RUN pip download --no-cache-dir --disable-pip-version-check --only-binary=:all: \\',
            '    -r /wheels/requirements.txt --dest /wheels',
            "",
            f"FROM {base}",
            "# Dependencies first, in a layer of their own: a new version with the same requirements",
            "# takes it from the build cache, and the push sends only the code layers below.",
            "# Installed with no network, from the wheels above only.",
            'RUN --network=none --mount=type=bind,from=wheels,source=/wheels,target=/wheels \\',
            '    pip install --no-cache-dir --disable-pip-version-check --no-index --only-binary=:all: \\',
            '    --find-links /wheels -r /wheels/requirements.txt --target "${LAMBDA_TASK_ROOT}"',
            "",
        ]
    else:
        lines += [f"FROM {base}", ""]
    lines += [
        "# Code: the feather runtime and its Lambda handler, then the model's bundle, which changes",
        "# with every version. The SDK comes after the dependencies so it wins over any package",
        "# that also calls itself feather.",
        "COPY feather/ ${LAMBDA_TASK_ROOT}/feather/",
        "COPY feather_lambda.py ${LAMBDA_TASK_ROOT}/",
        "COPY app/ ${LAMBDA_TASK_ROOT}/app/",
        "",
        'CMD ["feather_lambda.handler"]',
        "",
    ]
    return "\n".join(lines)


def write_context(root: Path, bundle: bytes, requirements: list[str], python: str) -> Path:
    """The folder `docker buildx build` is given: Dockerfile, requirements, SDK, handler, app."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(render_dockerfile(python, requirements))
    (root / "requirements.txt").write_text("".join(f"{r}\n" for r in clean_requirements(requirements)))
    shutil.copytree(SDK_DIR, root / "feather", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copyfile(HANDLER_FILE, root / "feather_lambda.py")
    unpack_code(bundle, root / "app")
    return root


def _aws_name(model_id: str, sep: str, limit: int) -> str:
    parts = model_id.split("/")
    name = sep.join(["feather", *parts])
    if all(_CLEAN_PART.fullmatch(p) for p in parts) and len(name) <= limit:
        return name
    # Cleaning or cutting could make two model ids meet: a digest of the id keeps them apart.
    slug = sep.join(["feather", *(re.sub(r"[^a-z0-9]+", "-", p.lower()).strip("-") or "x" for p in parts)])
    return f"{slug[:limit - 9].rstrip('-/_')}-{hashlib.sha256(model_id.encode()).hexdigest()[:8]}"


def repository_name(model_id: str) -> str:
    """ECR repository of a model: feather/<owner>/<name>."""
    return _aws_name(model_id, "/", 256)


def function_name(model_id: str) -> str:
    """Lambda function of a model: feather_<owner>_<name> ('_' never occurs in either part)."""
    return _aws_name(model_id, "_", 64)


class LambdaImageBuilder:
    def __init__(self, *, role_arn: str, region: str = "us-east-1", session: Any = None,
                 endpoint_url: str | None = None, memory_mb: int = 2048, timeout_s: int = 300,
                 architecture: str = "x86_64", docker: str = "docker",
                 build_timeout_s: float = BUILD_TIMEOUT_S, poll_s: float = 2.0) -> None:
        self.aws = LambdaDeployer(region=region, session=session, endpoint_url=endpoint_url,
                                  architecture=architecture, poll_s=poll_s)
        self.role_arn, self.memory_mb, self.timeout_s = role_arn, memory_mb, timeout_s
        self.docker = docker
        self.build_timeout_s = build_timeout_s

    async def build(self, model_id: str, version: int, bundle_bytes: bytes, requirements: list[str],
                    python: str, log: Log) -> dict[str, Any]:
        """Build and push the image, then `publish` it; returns ImageBuilt.runtime."""
        lambda_python(python)  # refuse a Python that Lambda cannot run before touching Docker or AWS
        if not await self._succeeds(self.docker, "info"):
            raise BuildError("no Docker engine to build the Lambda image")
        if not await self._succeeds(self.docker, "buildx", "version"):
            raise BuildError("docker buildx is not installed: it builds the Lambda image")
        repository = await self.aws.ensure_repository(repository_name(model_id), log)
        tag = f"v{version}"
        with tempfile.TemporaryDirectory(prefix="feather-lambda-") as tmp:
            context = await asyncio.to_thread(write_context, Path(tmp), bundle_bytes, requirements, python)
            log(f"image context ready: Python {lambda_python(python)}, "
                f"{len(clean_requirements(requirements))} requirements")
            registry, user, password = await self.aws.registry_auth()
            await self._run([self.docker, "login", "--username", user, "--password-stdin", registry], log,
                            stdin=password.encode())
            # --provenance=false: an attestation turns the push into an image index, which Lambda refuses
            await self._run([self.docker, "buildx", "build", "--platform", PLATFORMS[self.aws.architecture],
                             "--provenance=false", "--push", "--tag", f"{repository}:{tag}", str(context)], log)
        digest = await self.aws.image_digest(repository_name(model_id), tag)
        log(f"pushed {repository}:{tag} ({digest})")
        return await self.publish(model_id, digest, log)

    async def publish(self, model_id: str, image_digest: str, log: Log) -> dict[str, Any]:
        """Point the model's Lambda function at an image already in ECR, by digest."""
        repository = await self.aws.ensure_repository(repository_name(model_id), log)
        return await self.deploy(function_name(model_id), f"{repository}@{image_digest}",
                                 self.role_arn, self.memory_mb, self.timeout_s, log)

    async def deploy(self, function_name: str, image_uri: str, role_arn: str, memory_mb: int,
                     timeout_s: int, log: Log) -> dict[str, Any]:
        """Create or update the function and publish a version of it (see LambdaDeployer.deploy)."""
        return await self.aws.deploy(function_name, image_uri, role_arn, memory_mb, timeout_s, log)

    async def _succeeds(self, *argv: str) -> bool:
        try:
            proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL,
                                                        stderr=asyncio.subprocess.DEVNULL)
        except OSError:
            return False
        try:
            return await asyncio.wait_for(proc.wait(), 30) == 0
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            return False

    async def _run(self, argv: list[str], log: Log, *, stdin: bytes | None = None) -> None:
        log("$ " + " ".join(argv))
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        tail: list[str] = []  # the last lines say why a step failed; the whole output is in the log

        async def pump() -> None:
            if stdin is not None and proc.stdin is not None:
                proc.stdin.write(stdin)
                await proc.stdin.drain()
                proc.stdin.close()
            async for line in proc.stdout:  # type: ignore[union-attr]
                text = line.decode(errors="replace").rstrip()
                log(text)
                tail[:] = [*tail[-2:], text] if text else tail

        try:
            await asyncio.wait_for(asyncio.gather(pump(), proc.wait()), timeout=self.build_timeout_s)
        except asyncio.TimeoutError:
            raise BuildError(f"docker {argv[1]} timed out after {self.build_timeout_s:.0f}s") from None
        finally:
            if proc.returncode is None:  # timed out or canceled: leave no build running
                proc.kill()
                await proc.wait()
        if proc.returncode != 0:
            raise BuildError(f"docker {argv[1]} failed with exit code {proc.returncode}"
                             + (": " + " / ".join(tail) if tail else ""))
