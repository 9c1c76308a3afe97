"""Helpers for the AWS Lambda tests: a moto server on loopback, a tiny model app, the handler module.

Not a conftest.py: the test modules import what they use from here. moto stands in for ECR, Lambda,
IAM and S3 at the API level only; what it cannot check is printed with the test session's summary.
"""
from __future__ import annotations

import importlib.util
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from services.builder.lambda_image import HANDLER_FILE

UNVERIFIED = [
    "no image is built or run: moto accepts any ImageUri; the Dockerfile is checked as text only",
    "docker login / buildx build --push ran against a stand-in docker script, not a Docker engine",
    "the handler ran in this process, not inside public.ecr.aws/lambda/python under awslambdaric",
    "Lambda states are instant in moto (real image functions stay Pending for seconds to minutes); "
    "polling is tested on a scripted client",
    "moto keeps no per-version code (get_function with a Qualifier shows the latest image) and "
    "does not check publish_version's CodeSha256",
    "IAM: the role's trust policy and permissions, presigned-URL signatures and expiry are not enforced",
    "invoke responses (FunctionError, throttling) are stubbed from AWS's documented shapes",
]

ECHO_APP = '''
import feather as ft

model = ft.Model("echo")


@model.step(inputs=[ft.Text("text")], outputs=[ft.Text("text")])
def echo(text):
    print("echoing", len(text), "characters")
    return text


@model.step(inputs=[ft.Text("text")], outputs=[ft.Text("text")])
def fail(text):
    raise ValueError("the model refused: " + text)
'''


class _Summary:
    """Registered once by the fixture below: hooks only load from conftest files and plugins."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.section("AWS Lambda path: not verified without Docker and AWS")
        for line in UNVERIFIED:
            terminalreporter.write_line(f"- {line}")


@pytest.fixture(scope="session", autouse=True)
def lambda_unverified_summary(request: pytest.FixtureRequest) -> None:
    manager = request.config.pluginmanager
    if not manager.has_plugin("feather-lambda-summary"):
        manager.register(_Summary(), "feather-lambda-summary")
        print("\nAWS Lambda tests run against moto; not verified here: " + "; ".join(UNVERIFIED))


@dataclass
class MotoAws:
    endpoint: str
    session: boto3.Session

    def client(self, name: str) -> Any:
        return self.session.client(name, endpoint_url=self.endpoint)

    def role(self) -> str:
        """An IAM role moto's Lambda accepts (it refuses roles that do not exist)."""
        return self.client("iam").create_role(RoleName=f"feather-{uuid.uuid4().hex[:8]}",
                                              AssumeRolePolicyDocument="{}")["Role"]["Arn"]

    def bucket(self) -> str:
        name = f"feather-payloads-{uuid.uuid4().hex[:8]}"
        self.client("s3").create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="session")
def aws() -> Iterator[MotoAws]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # Dummy credentials in the session itself: nothing from the developer's AWS setup is read.
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                            region_name="us-east-1")
    print(f"\nAWS stand-in: moto server at http://{host}:{port}")
    yield MotoAws(f"http://{host}:{port}", session)
    server.stop()


def write_app(folder: Path, source: str = ECHO_APP) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(textwrap.dedent(source))
    return folder / "app.py"


def load_handler(app: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A fresh copy of the image's handler module, loaded as Lambda's init phase would load it."""
    monkeypatch.setenv("FEATHER_APP", str(app))
    monkeypatch.chdir(app.parent)  # the handler changes directory at init; this puts it back after
    monkeypatch.setattr(sys, "path", list(sys.path))  # and the app folder it adds to sys.path
    spec = importlib.util.spec_from_file_location(f"feather_lambda_{uuid.uuid4().hex}", HANDLER_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
