"""Two distributions come from this repository: the SDK, light enough for any model developer's or
API client's environment, and the platform, which depends on it."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from uv import find_uv_bin

import feather

ROOT = Path(__file__).resolve().parents[2]
SDK_NEEDS = {"httpx", "typer", "rich"}


def name_of(requirement: str) -> str:
    for stop in "<>=!~[; ":
        requirement = requirement.split(stop, 1)[0]
    return requirement.strip().lower()


@pytest.fixture(scope="module")
def sdk_wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    source = out / "sdk"  # a copy: a build writes its own folders next to the sources
    shutil.copytree(ROOT / "sdk", source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    built = subprocess.run([find_uv_bin(), "build", "--wheel", "--out-dir", str(out), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = out.glob("feather-*.whl")
    return wheel


def test_the_sdk_wheel_depends_on_httpx_typer_and_rich_only(sdk_wheel):
    with zipfile.ZipFile(sdk_wheel) as wheel:
        (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        meta = Parser().parsestr(wheel.read(metadata).decode())
        packages = {n.split("/", 1)[0] for n in wheel.namelist() if "/" in n and ".dist-info" not in n}
    required = meta.get_all("Requires-Dist") or []
    always = {name_of(r) for r in required if "extra ==" not in r}
    optional = {name_of(r) for r in required if "extra ==" in r}
    assert always == SDK_NEEDS
    assert optional == {"numpy", "pillow"}
    assert meta["Name"] == "feather" and meta["Version"] == feather.__version__
    assert packages == {"feather"}  # the services are not in it
    assert "feather = feather._cli:main" in zipfile.ZipFile(sdk_wheel).read(
        metadata.replace("METADATA", "entry_points.txt")).decode()


def test_the_platform_depends_on_this_sdk_and_ships_no_copy_of_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "feather-platform"
    assert f"feather=={feather.__version__}" in project["dependencies"]
    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert found["include"] == ["services*"]


def test_the_sdk_imports_only_what_it_declares():
    allowed = SDK_NEEDS | {"click", "numpy", "PIL", "feather"}  # click comes with typer; numpy and PIL are [media]
    found = {}
    for path in (ROOT / "sdk" / "feather").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in allowed:
                    found.setdefault(top, str(path.relative_to(ROOT)))
    assert found == {}
