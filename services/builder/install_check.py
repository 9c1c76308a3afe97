"""What an installed environment may hold: packages go in site-packages and bin (data and headers
in share, include and etc, which Python never reads), and nothing they install runs by itself
when Python starts.

A wheel can carry files for any folder of the environment (``<pkg>.data/data/...`` lands in its
root, so a ``pyvenv.cfg`` there replaces the environment's own) and start-up hooks (``.pth``
lines that begin with ``import``, ``sitecustomize``). The builder compares the environment
before and after the install and refuses the build when a package did either.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

STARTUP_NAMES = ("sitecustomize", "usercustomize")
INSTALLER_FILES = (".lock",)  # what uv itself keeps in an environment's root while it works on it
# a wheel's data and headers land here (sympy's man page, greenlet's headers): inert for Python
DATA_FOLDERS = ("share", "include", "etc")
# start-up hooks of well-known packages that are removed rather than refused: setuptools' shim is
# installed again by setuptools itself when it is imported
DISARMED_HOOKS = ("distutils-precedence.pth",)
OVERSIZE = "makes the environment larger than its limit"
Snapshot = dict[str, str]


@dataclass(frozen=True)
class Violation:
    package: str
    path: str  # relative to the environment
    reason: str

    def line(self) -> str:
        return f"package {self.package} {self.reason}: {self.path}"


def snapshot(env: Path) -> Snapshot:
    """Every file and link in a new environment (a few dozen), with what identifies its content."""
    return {rel: _identity(env / rel) for rel in _walk(env)}


def _walk(env: Path) -> list[str]:
    """Every file and link under ``env``, relative to it, without following links."""
    found = []
    for folder, dirs, files in os.walk(env):
        for name in [*files, *(d for d in dirs if os.path.islink(os.path.join(folder, d)))]:
            found.append(os.path.relpath(os.path.join(folder, name), env))
    return found


def _identity(path: Path) -> str:
    if path.is_symlink():
        return "link:" + os.readlink(path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def site_packages(env: Path) -> str:
    """The environment's site-packages folder, relative to it (lib/pythonX.Y/site-packages)."""
    for entry in sorted((env / "lib").glob("python*/site-packages")):
        return os.path.relpath(entry, env)
    raise FileNotFoundError(f"{env} has no lib/python*/site-packages")


def owners(env: Path, site: str) -> dict[str, str]:
    """Which installed distribution wrote each file (from the RECORD files), relative to env."""
    found: dict[str, str] = {}
    for record in (env / site).glob("*.dist-info/RECORD"):
        package = _name(record.parent)
        for line in record.read_text(errors="replace").splitlines():
            name = line.rsplit(",", 2)[0] if line.count(",") >= 2 else line
            if name:
                found[os.path.normpath(os.path.join(site, name))] = package
    return found


def violations(env: Path, before: Snapshot, *, max_bytes: int | None = None) -> list[Violation]:
    """Files the install put outside site-packages and bin, changed, or made start-up hooks of;
    and an environment larger than ``max_bytes``."""
    site = site_packages(env)
    after = _walk(env)
    by = owners(env, site)
    found: list[Violation] = []
    total = 0
    sizes: dict[str, int] = {}
    for rel in sorted(after):
        package = by.get(rel, "(unknown)")
        if rel in before:
            if before[rel] != _identity(env / rel):
                found.append(Violation(package, rel, "replaces a file of the environment itself"))
            continue
        size = os.lstat(env / rel).st_size
        total += size
        sizes[package] = sizes.get(package, 0) + size
        parent = os.path.dirname(rel)
        if rel in INSTALLER_FILES and rel not in by:
            continue
        top = rel.split(os.sep, 1)[0]
        if not (rel.startswith(site + os.sep) or parent == "bin" or (top in DATA_FOLDERS and top != rel)):
            found.append(Violation(package, rel, "installs a file outside site-packages and bin"))
        elif parent == site and rel.endswith(".pth") and _runs_code(env / rel):
            found.append(Violation(package, rel, "adds a .pth file that runs code when Python starts"))
        elif _startup_module(rel):
            # anywhere: a .pth path line can put any folder of site-packages on sys.path
            found.append(Violation(package, rel, "adds a module Python runs when it starts"))
    if max_bytes is not None and total > max_bytes:
        biggest = max(sizes, key=sizes.__getitem__)
        found.append(Violation(biggest, f"{sizes[biggest] // 2**20} MiB of {total // 2**20} MiB",
                               f"{OVERSIZE} of {max_bytes // 2**20} MiB"))
    return found


def disarm(env: Path) -> list[str]:
    """Remove the well-known start-up hooks (DISARMED_HOOKS); returns what was removed."""
    removed = []
    for name in DISARMED_HOOKS:
        path = env / site_packages(env) / name
        if path.is_file() and not path.is_symlink():
            path.unlink()
            removed.append(name)
    return removed


def _startup_module(rel: str) -> bool:
    """sitecustomize or usercustomize as a module of any kind (.py, .pyc, extension) or a package."""
    return any(part.split(".", 1)[0] in STARTUP_NAMES for part in Path(rel).parts[-2:])


def _name(dist_info: Path) -> str:
    """The distribution's own name (its METADATA), else the folder's."""
    try:
        for line in (dist_info / "METADATA").read_text(errors="replace").splitlines():
            if line.lower().startswith("name:"):
                return line.split(":", 1)[1].strip()
            if not line.strip():
                break
    except OSError:
        pass
    return dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[0]


def _runs_code(pth: Path) -> bool:
    """site.py executes a .pth line that starts with "import" followed by a space or a tab."""
    for line in pth.read_text(errors="replace").splitlines():
        if line.startswith(("import ", "import\t")):
            return True
    return False
