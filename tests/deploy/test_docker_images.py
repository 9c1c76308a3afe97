"""The images of deploy/docker: what they copy exists, what they run exists, and the Lambda base
agrees with the images the builder makes for models (services/builder/lambda_image.py)."""
from __future__ import annotations

import ast
import json
import re
import shlex
from pathlib import Path

import pytest

from k8s_render import ROOT
import k8s_facts
from services.builder import lambda_image

DOCKER = ROOT / "deploy" / "docker"
SERVICES = DOCKER / "services.Dockerfile"
LAMBDA = DOCKER / "lambda-model.Dockerfile"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        current += line.removesuffix("\\") + " "
        if not line.endswith("\\"):
            lines.append(current.strip())
            current = ""
    return [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if " " in l else "") for l in lines]


def final_stage(path: Path) -> list[tuple[str, str]]:
    steps = instructions(path)
    start = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[start:]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), f"exec form expected: {args}"
    return value


def copies(path: Path) -> list[list[str]]:
    """Sources of the COPY instructions that read the build context (not another stage)."""
    found = []
    for op, args in instructions(path):
        if op == "COPY":
            words = shlex.split(args)
            if any(w.startswith("--from=") for w in words):
                continue
            words = [w for w in words if not w.startswith("--")]
            found.append(words[:-1])
    return found


def allowed_by_ignore_file(dockerfile: Path, source: str) -> bool:
    ignore = dockerfile.with_name(dockerfile.name + ".dockerignore")
    assert ignore.is_file(), f"{ignore.name}: the context is the repository root, so say what it may hold"
    allowed = [l[1:].rstrip("/") for l in ignore.read_text().splitlines() if l.startswith("!")]
    source = source.rstrip("/")
    # the path itself, a folder above it, or (for a folder) some of what it holds
    return any(source == a or source.startswith(a + "/") or a.startswith(source + "/") for a in allowed)


@pytest.mark.parametrize("dockerfile", [SERVICES, LAMBDA], ids=lambda p: p.name)
def test_what_the_image_copies_exists_and_is_in_the_context(dockerfile: Path) -> None:
    for sources in copies(dockerfile):
        for source in sources:
            assert (ROOT / source).exists(), f"{dockerfile.name}: COPY {source}: no such path in the repository"
            assert allowed_by_ignore_file(dockerfile, source), f"{dockerfile.name}: COPY {source} is ignored"


def test_services_image_is_multi_stage_non_root_and_installs_both_distributions() -> None:
    steps = instructions(SERVICES)
    assert sum(op == "FROM" for op, _ in steps) >= 2, "multi-stage"
    users = [args for op, args in final_stage(SERVICES) if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), "the final stage runs as a non-root user"
    installs = " ".join(args for op, args in steps if op == "RUN" and re.search(r"\b(uv )?pip install\b", args))
    assert re.search(r"\bsdk\b", installs) and re.search(r"(-e|\s)\.(\s|$)", installs), "installs ./sdk and ."
    apt = " ".join(args for op, args in final_stage(SERVICES) if op == "RUN")
    for package in ("bubblewrap", "python3-seccomp", "util-linux"):  # the executor's sandbox (docs/security.md)
        assert package in apt, f"the sandbox needs {package} in the image"


def test_services_image_entry_point_runs_a_service_module() -> None:
    final = final_stage(SERVICES)
    entrypoint = exec_form(next(args for op, args in reversed(final) if op == "ENTRYPOINT"))
    cmd = exec_form(next(args for op, args in reversed(final) if op == "CMD"))
    assert entrypoint[-2:] == ["python", "-m"], f"ENTRYPOINT {entrypoint} should end in python -m"
    if entrypoint[0] != "python":
        init = Path(entrypoint[0]).name
        apt = " ".join(args for op, args in final if op == "RUN")
        assert init in apt, f"{entrypoint[0]} is installed by the image"
    (module,) = cmd
    assert module.split(".")[1] in k8s_facts.services()
    assert (ROOT / Path(*module.split(".")) / "__main__.py").is_file(), f"CMD {module}: no {module}.__main__"


def test_deployments_run_modules_the_image_has(rendered: dict[str, list[dict]]) -> None:
    for overlay, objects in rendered.items():
        for o in (o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] in k8s_facts.services()):
            for c in o["spec"]["template"]["spec"]["containers"]:
                if c["name"] == "service":
                    (module,) = c["args"]
                    assert (ROOT / Path(*module.split(".")) / "__main__.py").is_file(), f"{overlay}: {module}"


def test_lambda_base_matches_the_builders_model_images() -> None:
    final = final_stage(LAMBDA)
    base = next(args for op, args in final if op == "FROM").split()[0]
    assert base.split(":")[0] == lambda_image.BASE_IMAGE, f"FROM {base}, the builder uses {lambda_image.BASE_IMAGE}"
    default = next((args for op, args in instructions(LAMBDA) if op == "ARG" and args.startswith("PYTHON_VERSION=")), "")
    assert default == f"PYTHON_VERSION={lambda_image.DEFAULT_PYTHON}", "the same default Python as the builder"
    rendered = lambda_image.render_dockerfile(lambda_image.DEFAULT_PYTHON, [])
    builder_cmd = exec_form(re.search(r"^CMD (.*)$", rendered, re.M).group(1))
    cmd = exec_form(next(args for op, args in reversed(final) if op == "CMD"))
    assert cmd == builder_cmd, f"CMD {cmd}; the builder's model images run {builder_cmd}"
    module, _, function = cmd[0].rpartition(".")
    handler = lambda_image.HANDLER_FILE
    assert handler.name == f"{module}.py" and handler.is_file()
    assert any(isinstance(n, ast.FunctionDef) and n.name == function for n in ast.parse(handler.read_text()).body), \
        f"{handler.name} defines no {function}()"
    # the same layout: the SDK and the handler where the builder puts them
    builder_dests = {shlex.split(l)[-1] for l in rendered.splitlines() if l.startswith("COPY") and "app/" not in l}
    ours = {shlex.split(args)[-1] for op, args in final if op == "COPY"}
    assert ours == builder_dests, f"copies to {ours}; the builder's images to {builder_dests}"


def test_make_images_builds_both() -> None:
    makefile = (ROOT / "Makefile").read_text()
    target = re.search(r"^images:.*?(?=^\S|\Z)", makefile, re.M | re.S)
    assert target, "a make images target"
    for dockerfile in (SERVICES, LAMBDA):
        assert str(dockerfile.relative_to(ROOT)) in target.group(0)
    assert re.search(r"command -v docker.*exit 1", target.group(0)), "says so, and fails, without docker"
