"""What an installed environment may hold, checked on a real folder laid out like a venv."""
from __future__ import annotations

from pathlib import Path

import pytest

from services.builder import install_check

SITE = "lib/python3.11/site-packages"


@pytest.fixture()
def env(tmp_path: Path) -> Path:
    (tmp_path / SITE).mkdir(parents=True)
    (tmp_path / "bin").mkdir()
    (tmp_path / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (tmp_path / "bin" / "python").symlink_to("/usr/bin/python3")
    return tmp_path


def install(env: Path, name: str, files: dict[str, str]) -> None:
    """What an installer leaves: the files, and a dist-info whose RECORD lists them from site-packages."""
    site = env / SITE
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n\nbody\n")
    lines = []
    for rel, text in files.items():
        target = env / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        lines.append(f"{Path(rel).relative_to(SITE) if rel.startswith(SITE) else '../../../' + rel},sha256=x,1")
    (info / "RECORD").write_text("\n".join(lines) + "\n")


def test_a_plain_package_passes(env: Path) -> None:
    before = install_check.snapshot(env)
    install(env, "plain", {f"{SITE}/plain/__init__.py": "", "bin/plain-cli": "#!/bin/sh\n",
                           f"{SITE}/plain-paths.pth": "plain_extra\n# a comment\n",
                           # what sympy, greenlet and jupyter packages ship as data
                           "share/man/man1/isympy.1": "", "include/site/python3.11/greenlet/greenlet.h": "",
                           "etc/jupyter/nbconfig/x.json": "{}"})
    assert install_check.violations(env, before) == []


def test_setuptools_start_up_hook_is_removed_not_refused(env: Path) -> None:
    before = install_check.snapshot(env)
    install(env, "setuptools", {f"{SITE}/distutils-precedence.pth": "import os; var = 'SETUPTOOLS_USE_DISTUTILS'\n",
                                f"{SITE}/_distutils_hack/__init__.py": ""})
    assert install_check.disarm(env) == ["distutils-precedence.pth"]
    assert install_check.violations(env, before) == [] and not (env / SITE / "distutils-precedence.pth").exists()


@pytest.mark.parametrize("files, reason", [
    ({"pyvenv.cfg": "home = /\n"}, "replaces a file of the environment itself"),
    ({"planted.sh": "#!/bin/sh\n"}, "installs a file outside site-packages and bin"),
    ({"lib/python3.11/os.py": ""}, "installs a file outside site-packages and bin"),
    ({"share": "a file named like a data folder"}, "installs a file outside site-packages and bin"),
    ({f"{SITE}/hook.pth": "import os; os.system('id')\n"}, "adds a .pth file that runs code"),
    ({f"{SITE}/hook.pth": "import\tos\n"}, "adds a .pth file that runs code"),
    ({f"{SITE}/sitecustomize.py": "print('hi')\n"}, "adds a module Python runs when it starts"),
    ({f"{SITE}/sitecustomize/__init__.py": "print('hi')\n"}, "adds a module Python runs when it starts"),
    ({f"{SITE}/extra/usercustomize.cpython-311-x86_64-linux-gnu.so": ""}, "adds a module Python runs when it starts"),
    ({"bin/python": "#!/bin/sh\n"}, "replaces a file of the environment itself"),
])
def test_what_a_package_may_not_do(env: Path, files: dict[str, str], reason: str) -> None:
    before = install_check.snapshot(env)
    if "bin/python" in files:
        (env / "bin" / "python").unlink()
    install(env, "sneaky-pkg", files)
    found = install_check.violations(env, before)
    assert [v.reason for v in found if reason in v.reason], found
    line = next(v for v in found if reason in v.reason).line()
    assert line.startswith("package sneaky-pkg ") and next(iter(files)) in line


def test_a_file_no_record_claims_is_still_refused(env: Path) -> None:
    before = install_check.snapshot(env)
    (env / "lib64").mkdir()
    (env / "lib64" / "planted").write_text("x")
    assert [v.line() for v in install_check.violations(env, before)] == [
        "package (unknown) installs a file outside site-packages and bin: lib64/planted"]


def test_the_installers_own_lock_file_is_not_a_package_file(env: Path) -> None:
    before = install_check.snapshot(env)
    (env / ".lock").write_text("")
    assert install_check.violations(env, before) == []


def test_an_environment_past_its_size_is_refused(env: Path) -> None:
    before = install_check.snapshot(env)
    install(env, "big", {f"{SITE}/big/data.bin": "x" * 4096})
    assert install_check.violations(env, before, max_bytes=8192) == []
    found = install_check.violations(env, before, max_bytes=1024)
    assert [(v.package, v.reason) for v in found] == [("big", "makes the environment larger than its limit of 0 MiB")]
