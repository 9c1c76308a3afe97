"""Local runtimes: a uv virtual environment per distinct set of requirements, plus the code.

Environments are built in a temporary folder and renamed into place when complete, so a failed
or interrupted build never leaves a half-made environment that a later build would trust.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import tarfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from uv import find_uv_bin

from services.builder import install_check
from services.builder.domain import python_for
from services.contracts.bundles import BundleTooLarge, Inflating, within_limits


class BuildError(RuntimeError):
    pass




@dataclass(frozen=True)
class Environment:
    path: Path
    python: Path
    reused: bool
    interpreter: dict  # the base interpreter's executable and the paths a sandbox must mount for it


# Run by the base interpreter itself (isolated, no site): where its standard library and shared
# library are. Never run with an environment's interpreter, whose packages could add start-up code.
_PROBE = """
import json, os, sys, sysconfig
paths = sysconfig.get_paths()
lib = None
if sysconfig.get_config_var("Py_ENABLE_SHARED"):
    name = sysconfig.get_config_var("INSTSONAME") or sysconfig.get_config_var("LDLIBRARY")
    candidate = os.path.join(sysconfig.get_config_var("LIBDIR") or "", name or "")
    lib = candidate if name and os.path.exists(candidate) else None
print(json.dumps({"stdlib": paths["stdlib"], "platstdlib": paths["platstdlib"], "libpython": lib,
                  "version": "%d.%d.%d" % sys.version_info[:3]}))
"""


class LocalEnvironments:
    def __init__(self, root: Path, *, timeout_s: float, find_links: str | None = None,
                 max_env_mb: int = 10240) -> None:
        self.root = root
        self.timeout_s = timeout_s
        self.find_links = find_links
        self.max_env_bytes = max_env_mb * 2**20
        self._locks: dict[str, asyncio.Lock] = {}
        self._uv = find_uv_bin()

    def _index_args(self) -> list[str]:
        return ["--find-links", self.find_links] if self.find_links else []

    async def lock(self, requirements: list[str], python: str, log: Callable[[str], None]) -> str:
        """Resolve the requirements to exact pins: equal locks share one environment."""
        if not requirements:
            return ""
        work = self.root / "locks"
        work.mkdir(parents=True, exist_ok=True)
        source = work / f"{os.getpid()}-{time.monotonic_ns()}.in"
        source.write_text("\n".join(requirements) + "\n")
        try:
            # --no-build: only published wheels, so installing never runs code from the bundle's author
            await self._run([self._uv, "pip", "compile", str(source), "--quiet", "--no-header", "--no-annotate",
                             "--no-build", *self._index_args(),
                             "--python-version", python or "3.11", "--output-file", str(source.with_suffix(".lock"))],
                            log)
            locked = source.with_suffix(".lock").read_text()
        finally:
            for path in (source, source.with_suffix(".lock")):
                path.unlink(missing_ok=True)
        log(f"locked {len(locked.splitlines())} packages")
        return locked

    async def ensure(self, key: str, locked: str, python: str, log: Callable[[str], None]) -> Environment:
        final = self.root / "envs" / key
        final.parent.mkdir(parents=True, exist_ok=True)
        # concurrent builds of one environment do the work once: in this process (asyncio lock)
        # and across builder processes sharing the folder (a file lock)
        record = final.with_name(f".{key}.interpreter.json")  # beside the environment, not in it
        async with self._locks.setdefault(key, asyncio.Lock()), _file_lock(final.with_name(f".{key}.lock")):
            if (final / ".ready").exists() and record.exists():
                log(f"reusing environment {key}")
                return Environment(final, final / "bin" / "python", reused=True,
                                   interpreter=json.loads(record.read_text()))
            tmp = self.root / "envs" / f".{key}.{os.getpid()}.{time.monotonic_ns()}"
            try:
                await self._run([self._uv, "venv", "--quiet", "--python", python_for(python), str(tmp)], log)
                # read before any package is in: from here on the environment holds strangers' files
                interpreter = await self._interpreter(tmp)
                if locked:
                    (tmp / "requirements.lock").write_text(locked)
                before = install_check.snapshot(tmp)
                if locked:
                    await self._run([self._uv, "pip", "sync", "--no-build", *self._index_args(),
                                     "--python", str(tmp / "bin" / "python"), str(tmp / "requirements.lock")], log)
                for hook in install_check.disarm(tmp):
                    log(f"removed the start-up hook {hook}")
                problems = await asyncio.to_thread(install_check.violations, tmp, before,
                                                   max_bytes=self.max_env_bytes)
                if problems:
                    for problem in problems[:20]:
                        log(f"refused: {problem.line()}")
                    await self._uncache([p.package for p in problems if p.reason.startswith(install_check.OVERSIZE)],
                                        log)
                    raise BuildError(f"{problems[0].line()} (packages may install into site-packages and bin, "
                                     "data into share, include and etc, and no start-up hooks)")
                (tmp / ".ready").write_text(key)
                record.write_text(json.dumps(interpreter))  # first: a ready environment always has one
                if final.exists():
                    shutil.rmtree(final)
                os.replace(tmp, final)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
        # only bin/python is used from the environment, and it finds its site-packages next to
        # pyvenv.cfg, so the rename does not break it (console-script shebangs would break)
        return Environment(final, final / "bin" / "python", reused=False, interpreter=interpreter)

    async def _uncache(self, packages: list[str], log: Callable[[str], None]) -> None:
        """What unpacked too large is not kept in the shared cache either."""
        names = [p for p in packages if not p.startswith("(")]
        if names:
            with contextlib.suppress(BuildError):
                await self._run([self._uv, "cache", "clean", *names], log)

    async def _interpreter(self, env: Path) -> dict:
        """The base interpreter behind a new environment, and every path a sandbox must show for it:
        each link from bin/python to the executable, its standard library, its shared library."""
        chain, path = [], env / "bin" / "python"
        for _ in range(40):
            chain.append(path)
            if not path.is_symlink():
                break
            path = Path(os.path.normpath(path.parent / os.readlink(path)))
        executable = chain[-1]
        if executable.is_symlink() or not executable.is_file():
            raise BuildError(f"the environment's interpreter {executable} is not a file")
        probe = await asyncio.create_subprocess_exec(str(executable), "-I", "-S", "-c", _PROBE,
                                                     stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(probe.communicate(), 60)
        if probe.returncode != 0:
            raise BuildError(f"the interpreter {executable} did not answer: {err.decode(errors='replace')[-200:]}")
        found = json.loads(out)
        outside = [p for p in chain if env not in p.parents]
        mounts = [str(p.parent) for p in outside]
        mounts += [found["stdlib"], found["platstdlib"]] + ([found["libpython"]] if found["libpython"] else [])
        mounts = list(dict.fromkeys(os.path.normpath(m) for m in mounts))
        return {"executable": str(executable), "version": found["version"],
                "mounts": [m for m in mounts if not any(Path(m).is_relative_to(o) and m != o for o in mounts)]}

    async def _run(self, argv: list[str], log: Callable[[str], None]) -> None:
        log("$ " + " ".join(Path(a).name if i == 0 else a for i, a in enumerate(argv)))
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1", "UV_NO_PROGRESS": "1"},
            umask=0o022)  # sandboxed workers run as another uid: what is installed must be readable
        assert proc.stdout is not None

        async def pump() -> None:
            async for line in proc.stdout:  # type: ignore[union-attr]
                log(line.decode(errors="replace").rstrip())

        try:
            await asyncio.wait_for(asyncio.gather(pump(), proc.wait()), timeout=self.timeout_s)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise BuildError(f"build step timed out after {self.timeout_s:.0f}s") from None
        if proc.returncode != 0:
            raise BuildError(f"{Path(argv[0]).name} {argv[1]} failed with exit code {proc.returncode}")


@contextlib.asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    handle = open(path, "a+")
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(0.2)
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def unpack_code(bundle: bytes, dest: Path, *, max_members: int = 2000, max_unpacked_mb: int = 200) -> Path:
    """Extract a version's bundle once; the folder is never changed afterwards.

    A bundle with more than ``max_members`` members, or unpacking to more than ``max_unpacked_mb``,
    is refused while it is read (the defaults are the settings' defaults).
    """
    if (dest / "app.py").exists():
        return dest
    tmp = dest.with_name(f".{dest.name}.{time.monotonic_ns()}")
    tmp.mkdir(parents=True)
    try:
        # a stream, so each member is checked and written before the next one is inflated
        with tarfile.open(fileobj=Inflating(bundle, max_unpacked_mb), mode="r|") as tar:
            _extract(tar, tmp, within_limits(tar, max_members, max_unpacked_mb))
        _readable(tmp)
        os.replace(tmp, dest)
    except BundleTooLarge as exc:
        raise BuildError(f"the bundle has {exc}") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _readable(root: Path) -> None:
    """Code is read by workers running as another uid: folders 0755, files 0644, none writable."""
    os.chmod(root, 0o755)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


def _extract(tar: tarfile.TarFile, dest: Path, members: Iterable[tarfile.TarInfo]) -> None:
    """Only plain files and folders, only inside ``dest``, each written as it is read."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, members=members, filter="data")
        return
    # Pythons before 3.11.4 (Debian 12's among them) have no extraction filters
    tar.extractall(dest, members=_plain(members, dest.resolve()))


def _plain(members: Iterable[tarfile.TarInfo], root: Path) -> Iterator[tarfile.TarInfo]:
    for member in members:
        if not (member.isfile() or member.isdir()) or not (root / member.name).resolve().is_relative_to(root):
            raise ValueError(f"the bundle holds something other than files in its folder: {member.name}")
        member.mode &= 0o755
        yield member
