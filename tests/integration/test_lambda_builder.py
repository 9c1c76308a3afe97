"""The Lambda build path: Dockerfile, build context, ECR and Lambda against a moto server, and the
image's handler module run in-process on a tiny model."""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from conftest_lambda import MotoAws, aws, lambda_unverified_summary, load_handler, write_app  # noqa: F401
from services.builder.lambda_deploy import LambdaDeployer
from services.builder.lambda_image import (LambdaImageBuilder, function_name, render_dockerfile,
                                           repository_name, write_context)
from services.builder.local_env import BuildError

SNAPSHOT = Path(__file__).parent / "snapshots" / "lambda.Dockerfile"


# --- the Dockerfile --------------------------------------------------------------------------

def test_dockerfile_matches_snapshot() -> None:
    text = render_dockerfile("3.12.4", ["numpy>=2", "  pillow  ", "# a comment", "", "numpy>=2"])
    if os.environ.get("FEATHER_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(text)
    assert text == SNAPSHOT.read_text(), "Dockerfile changed: rerun with FEATHER_UPDATE_SNAPSHOTS=1 if meant"

    lines = text.splitlines()
    stages = [line for line in lines if line.startswith("FROM ")]
    assert stages == ["FROM public.ecr.aws/lambda/python:3.12 AS wheels", "FROM public.ecr.aws/lambda/python:3.12"]
    download = next(i for i, line in enumerate(lines) if line.startswith("RUN pip download"))
    install = next(i for i, line in enumerate(lines) if line.startswith("RUN --network=none"))
    code = [i for i, line in enumerate(lines) if line.startswith("COPY") and "requirements" not in line]
    assert download < install and code and install < min(code), "the dependency layer must come before the code"
    assert "--target" in text and lines[-1] == 'CMD ["feather_lambda.handler"]'


def test_lambda_dependencies_are_wheels_installed_without_network() -> None:
    """No sdist's setup.py may run in the build: both pip commands take wheels only, and the one
    that installs has no network and no index, only the wheels the first one fetched."""
    text = render_dockerfile("3.12", ["numpy>=2"])
    commands = [c for c in text.replace("\\\n", " ").splitlines() if c.startswith("RUN ")]
    assert len(commands) == 2 and all("--only-binary=:all:" in c for c in commands), commands
    download, install = commands
    assert "pip download" in download and "--dest /wheels" in download
    assert install.startswith("RUN --network=none ") and "--no-index" in install and "--find-links /wheels" in install


def test_dockerfile_without_requirements_has_no_install_step() -> None:
    text = render_dockerfile("3.11", [" ", "# nothing"])
    assert text.startswith("FROM public.ecr.aws/lambda/python:3.11\n")
    assert "pip install" not in text and "COPY app/ ${LAMBDA_TASK_ROOT}/app/" in text


@pytest.mark.parametrize("python", ["2.7", "3.8", "three", "3"])
def test_pythons_lambda_cannot_run_are_refused(python: str) -> None:
    with pytest.raises(BuildError, match="no base image"):
        render_dockerfile(python, [])


def test_aws_names() -> None:
    assert repository_name("local/echo") == "feather/local/echo"
    assert function_name("local/image-classifier") == "feather_local_image-classifier"
    odd = [function_name(m) for m in ("Bob/My_Model", "bob/my-model", "bob/my--model", "a" * 40 + "/" + "b" * 40)]
    assert len(set(odd)) == 4 and odd[1] == "feather_bob_my-model"
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name) for name in odd)
    repo = repository_name("Bob/My_Model")
    assert re.fullmatch(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*", repo), repo
    assert repo != repository_name("bob/my-model")


def _bundle(app_source: str | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = (app_source or "import feather as ft\nmodel = ft.Model('echo')\n").encode()
        info = tarfile.TarInfo("app.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_build_context_holds_what_the_dockerfile_copies(tmp_path: Path) -> None:
    root = write_context(tmp_path, _bundle(), ["numpy>=2"], "3.11")
    assert (root / "requirements.txt").read_text() == "numpy>=2\n"
    assert (root / "app" / "app.py").read_text().startswith("import feather")
    assert (root / "feather" / "runtime" / "__init__.py").is_file()
    assert (root / "feather_lambda.py").read_text().count("def handler(") == 1
    assert not list(root.rglob("__pycache__"))
    for source in re.findall(r"^COPY (\S+) ", (root / "Dockerfile").read_text(), re.M):
        assert (root / source).exists(), f"the Dockerfile copies {source}, missing from the context"


def test_build_context_runs_as_the_lambda_task_root(tmp_path: Path) -> None:
    """The handler, the copied SDK and the app load from the task root alone, with no site-packages
    (python -S), and answer an event: what the image's CMD does, minus the Lambda runtime client."""
    from conftest_lambda import ECHO_APP

    root = write_context(tmp_path / "task", _bundle(ECHO_APP), [], "3.11")
    script = ("import json, sys; sys.path.insert(0, sys.argv[1]); import feather_lambda; "
              "print(json.dumps(feather_lambda.handler(json.loads(sys.argv[2]))))")
    event = {"run_id": "r1", "step": "echo", "inputs": {"text": "from the image"}}
    env = {"LAMBDA_TASK_ROOT": str(root), "PATH": os.environ.get("PATH", "")}
    done = subprocess.run([sys.executable, "-S", "-c", script, str(root), json.dumps(event)], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.splitlines()[-1])
    assert answer["ok"] is True and answer["outputs"] == {"text": "from the image"}, answer


# --- ECR and Lambda, on moto ------------------------------------------------------------------

def _push(aws: MotoAws, repository: str, tag: str) -> str:
    """What `docker buildx build --push` leaves in ECR: a manifest under a tag; its digest."""
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"digest": "sha256:" + uuid.uuid4().hex * 2, "size": 1,
                                      "mediaType": "application/vnd.docker.container.image.v1+json"},
                           "layers": [{"digest": "sha256:" + uuid.uuid4().hex * 2, "size": 1}]})
    image = aws.client("ecr").put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag)
    return image["image"]["imageId"]["imageDigest"]


def _builder(aws: MotoAws, **kwargs: Any) -> LambdaImageBuilder:
    return LambdaImageBuilder(role_arn=kwargs.pop("role_arn", None) or aws.role(), session=aws.session,
                              endpoint_url=aws.endpoint, poll_s=0.01, **kwargs)


async def test_ecr_repository_is_created_once(aws: MotoAws) -> None:
    deployer = _builder(aws).aws
    name, log = f"feather/t{uuid.uuid4().hex[:6]}/echo", []
    first = await deployer.ensure_repository(name, log.append)
    second = await deployer.ensure_repository(name, log.append)
    assert first == second and first.endswith("/" + name)
    assert log == [f"created ECR repository {name}"]
    found = aws.client("ecr").describe_repositories(repositoryNames=[name])["repositories"]
    assert len(found) == 1
    registry, user, password = await deployer.registry_auth()
    assert registry.startswith("https://") and user == "AWS" and password


async def test_publish_creates_the_function_then_updates_it(aws: MotoAws) -> None:
    model_id = f"t{uuid.uuid4().hex[:6]}/echo"
    role = aws.role()
    builder, log = _builder(aws, role_arn=role, memory_mb=1024, timeout_s=60), []
    repository = await builder.aws.ensure_repository(repository_name(model_id), log.append)
    lam = aws.client("lambda")

    digest1 = _push(aws, repository_name(model_id), "v1")
    first = await builder.publish(model_id, digest1, log.append)
    assert first == {"backend": "lambda", "function_name": function_name(model_id), "function_version": "1",
                     "function_arn": first["function_arn"], "image_uri": f"{repository}@{digest1}",
                     "image_digest": digest1, "region": "us-east-1"}
    got = lam.get_function(FunctionName=first["function_name"])
    assert got["Code"]["ImageUri"] == f"{repository}@{digest1}"
    conf = got["Configuration"]
    assert (conf["State"], conf["PackageType"], conf["MemorySize"], conf["Timeout"], conf["Role"]) == \
        ("Active", "Image", 1024, 60, role)
    assert any(line.startswith("created Lambda function") for line in log)

    digest2 = _push(aws, repository_name(model_id), "v2")
    builder.memory_mb = 3008  # a changed setting is applied with the new code
    second = await builder.publish(model_id, digest2, log.append)
    assert second["function_version"] == "2" and second["image_digest"] == digest2
    got = lam.get_function(FunctionName=first["function_name"])
    assert got["Code"]["ImageUri"] == f"{repository}@{digest2}" != first["image_uri"]
    assert got["Configuration"]["MemorySize"] == 3008
    assert any(line.startswith("updated Lambda function") for line in log)
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=first["function_name"])["Versions"]] \
        == ["$LATEST", "1", "2"]


class ScriptedLambda:
    """get_function_configuration answers from a script, as a real function moves through states."""

    def __init__(self, states: list[tuple[str, str | None]], **extra: Any) -> None:
        self.states, self.extra, self.calls = list(states), extra, 0

    def get_function_configuration(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        state, update = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"State": state, "LastUpdateStatus": update, "FunctionArn": "arn:fn", **self.extra}


async def test_wait_polls_until_active_and_successful() -> None:
    deployer = LambdaDeployer(region="us-east-1", endpoint_url="http://127.0.0.1:9", poll_s=0.01)
    deployer.lam = ScriptedLambda([("Pending", None), ("Pending", None), ("Active", "InProgress"),
                                   ("Active", "Successful")])
    log: list[str] = []
    conf = await deployer.wait("fn", "3", log.append)
    assert conf["State"] == "Active" and deployer.lam.calls == 4
    assert log == ["waiting for fn:3 (state Pending, last update None)",
                   "waiting for fn:3 (state Active, last update InProgress)"]

    deployer.lam = ScriptedLambda([("Pending", None), ("Failed", None)], StateReasonCode="ImageAccessDenied",
                                  StateReason="Lambda does not have permission to access the ECR image")
    with pytest.raises(BuildError, match="ImageAccessDenied: Lambda does not have permission"):
        await deployer.wait("fn", "3", log.append)

    deployer.lam, deployer.wait_timeout_s = ScriptedLambda([("Pending", None)]), 0.05
    with pytest.raises(BuildError, match="not ready after"):
        await deployer.wait("fn", "3", log.append)


# --- the whole build, with a stand-in for the docker CLI -------------------------------------

FAKE_DOCKER = '''#!{python}
"""Stands in for the docker CLI: records each call; `buildx build --push` puts a manifest in ECR."""
import json, os, sys, uuid
argv, record = sys.argv[1:], {{"argv": sys.argv[1:]}}
if argv[:1] == ["login"]:
    record["stdin"] = sys.stdin.read()
if argv[:2] == ["buildx", "build"]:
    context = argv[-1]
    record["files"] = sorted(os.path.relpath(os.path.join(d, f), context)
                             for d, _, fs in os.walk(context) for f in fs if "feather/" not in d + "/" + f)
    record["dockerfile"] = open(os.path.join(context, "Dockerfile")).read()
    repository, tag = argv[argv.index("--tag") + 1].split("/", 1)[1].rsplit(":", 1)
    layer = {{"digest": "sha256:" + uuid.uuid4().hex * 2, "size": 1}}
    manifest = json.dumps({{"schemaVersion": 2, "config": layer, "layers": [layer],
                           "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}})
    import boto3
    ecr = boto3.client("ecr", endpoint_url=os.environ["FAKE_DOCKER_AWS"], region_name="us-east-1")
    ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag)
    print("pushed", tag)
with open(os.environ["FAKE_DOCKER_LOG"], "a") as fh:
    fh.write(json.dumps(record) + "\\n")
'''


async def test_build_pushes_then_deploys(aws: MotoAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docker, calls = tmp_path / "docker", tmp_path / "calls.jsonl"
    docker.write_text(FAKE_DOCKER.format(python=sys.executable))
    docker.chmod(0o755)
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(calls))
    monkeypatch.setenv("FAKE_DOCKER_AWS", aws.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    model_id, log = f"t{uuid.uuid4().hex[:6]}/echo", []

    runtime = await _builder(aws, docker=str(docker)).build(model_id, 7, _bundle(), ["numpy>=2"], "3.12", log.append)

    recorded = [json.loads(line) for line in calls.read_text().splitlines()]
    assert [r["argv"][:2] for r in recorded] == [["info"], ["buildx", "version"], ["login", "--username"],
                                                 ["buildx", "build"]]
    login, build = recorded[2], recorded[3]
    assert login["argv"][1:3] == ["--username", "AWS"] and "--password-stdin" in login["argv"]
    assert login["stdin"] == "123456789012-auth-token"  # moto's token, piped, never in argv
    assert build["argv"][2:8] == ["--platform", "linux/amd64", "--provenance=false", "--push", "--tag",
                                  f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{repository_name(model_id)}:v7"]
    assert build["dockerfile"] == render_dockerfile("3.12", ["numpy>=2"])
    assert build["files"] == ["Dockerfile", "app/app.py", "feather_lambda.py", "requirements.txt"]
    pushed = aws.client("ecr").describe_images(repositoryName=repository_name(model_id))["imageDetails"][0]
    assert runtime["image_digest"] == pushed["imageDigest"] and runtime["function_version"] == "1"
    assert aws.client("lambda").get_function(FunctionName=function_name(model_id))["Code"]["ImageUri"] \
        == runtime["image_uri"]
    assert "pushed v7" in log

    log.clear()  # a second version: same repository, same function, new code and Lambda version
    again = await _builder(aws, docker=str(docker)).build(model_id, 8, _bundle(), ["numpy>=2"], "3.12", log.append)
    assert again["function_version"] == "2" and again["image_uri"] != runtime["image_uri"]
    assert not any(line.startswith("created") for line in log), log
    assert len(aws.client("ecr").describe_images(repositoryName=repository_name(model_id))["imageDetails"]) == 2
    assert aws.client("lambda").get_function(FunctionName=function_name(model_id))["Code"]["ImageUri"] \
        == again["image_uri"]


async def test_build_without_a_docker_engine_says_so(aws: MotoAws, tmp_path: Path) -> None:
    for docker in (str(tmp_path / "no-docker-here"), "docker"):
        builder = _builder(aws, docker=docker)
        if docker == "docker" and await builder._succeeds("docker", "info"):
            continue  # this machine has an engine: the message is tested with the missing binary only
        with pytest.raises(BuildError, match="^no Docker engine to build the Lambda image$"):
            await builder.build("t/echo", 1, _bundle(), [], "3.11", lambda _: None)
    with pytest.raises(BuildError, match="no base image"):  # refused before looking for Docker
        await _builder(aws).build("t/echo", 1, _bundle(), [], "2.7", lambda _: None)


# --- the handler module, in-process -----------------------------------------------------------

def test_handler_runs_steps_of_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    handler = load_handler(write_app(tmp_path / "app"), monkeypatch).handler

    answer = handler({"run_id": "r1", "step": "echo", "inputs": {"text": "hi"}}, None)
    assert answer["ok"] is True and answer["outputs"] == {"text": "hi"}
    assert answer["predict_ms"] >= 0 and answer["logs"] == "echoing 2 characters\n"
    assert "echoing 2 characters" in capsys.readouterr().out  # still reaches CloudWatch

    failed = handler({"run_id": "r2", "step": "fail", "inputs": {"text": "no"}}, None)
    assert failed["ok"] is False and failed["error"] == "ValueError: the model refused: no"
    assert "raise ValueError" in failed["traceback"]

    unknown = handler({"run_id": "r3", "step": "nope", "inputs": {}}, None)
    assert unknown["ok"] is False and "unknown step 'nope'" in unknown["error"]
    invalid = handler({"run_id": "r4", "step": "echo", "inputs": {"text": "a", "extra": 1}}, None)
    assert invalid["ok"] is False and "extra" in invalid["error"]

    big = handler({"run_id": "r5", "step": "echo", "inputs": {"text": "x" * (7 * 2**20)}}, None)
    assert big["ok"] is False and "outputs" not in big
    assert "more than a synchronous Lambda answer carries (6.0 MiB)" in big["error"]


def test_handler_reports_a_model_that_cannot_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = write_app(tmp_path / "broken", "import feather as ft\nraise RuntimeError('weights missing')\n")
    handler = load_handler(app, monkeypatch).handler
    for _ in range(2):  # every invocation of that container answers the same
        answer = handler({"run_id": "r", "step": "echo", "inputs": {}}, None)
        assert answer["ok"] is False and answer["error"].startswith("the model failed to load:")
        assert "weights missing" in answer["error"]
