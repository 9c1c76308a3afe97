"""A local package index for the tests: wheels written here, given to the builder as find-links
(FEATHER_BUILD_FIND_LINKS), each doing one thing a hostile package would do."""
from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

# a start-up hook writes this file if anything ever runs it outside a sandbox
HOOK_MARK = Path("/tmp/feather-test-startup-hook-ran")


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def write_wheel(folder: Path, name: str, files: dict[str, str], version: str = "1.0") -> Path:
    """A pure-Python wheel of ``files`` (archive path -> text), with its metadata and RECORD."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    members = {
        **{path: text.encode() for path, text in files.items()},
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: feather-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},{_digest(data)},{len(data)}\n" for path, data in members.items())
    members[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


HOSTILE_WHEELS = {
    # a wheel's .data/data lands in the environment's root: this one replaces pyvenv.cfg
    "feather-test-planted-cfg": {"feather_test_planted_cfg/__init__.py": "",
                                 "feather_test_planted_cfg-1.0.data/data/pyvenv.cfg": "home = /\n"},
    "feather-test-outside": {"feather_test_outside/__init__.py": "",
                             "feather_test_outside-1.0.data/data/feather-test.conf": "planted\n"},
    "feather-test-startup-hook": {"feather_test_startup_hook/__init__.py": "",
                                  "feather_test_startup_hook.pth":
                                      f"import os; open({str(HOOK_MARK)!r}, 'w').write('ran')\n"},
    # a start-up module as a package, which a plain sitecustomize.py check would miss
    "feather-test-sitecustomize-pkg": {"sitecustomize/__init__.py": f"open({str(HOOK_MARK)!r}, 'w').write('ran')\n"},
}
# what each refusal names in the build log
REFUSALS = {
    "feather-test-planted-cfg": "pyvenv.cfg",
    "feather-test-outside": "feather-test.conf",
    "feather-test-startup-hook": "feather_test_startup_hook.pth",
    "feather-test-sitecustomize-pkg": "sitecustomize/__init__.py",
}


def build_index(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, files in HOSTILE_WHEELS.items():
        write_wheel(folder, name, files)
    # a harmless package with a path-only .pth, to show that the index works and builds still pass
    write_wheel(folder, "feather-test-benign", {"feather_test_benign/__init__.py": "GREETING = 'benign'\n",
                                                "feather_test_benign.pth": "feather_test_benign_extra\n"})
    return folder


# what the end-to-end sandbox tests want said at the end of the run (see conftest.py)
NOTES: list[str] = []
