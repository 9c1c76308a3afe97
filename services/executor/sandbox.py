"""Sandboxing a model's worker process with bubblewrap, cgroups and resource limits.

Each worker gets: no network (its own network namespace), the model's code, its environment
and the Python it was built from mounted read-only, nothing else of the host's data, a private
size-limited /tmp, its own unprivileged uid, a memory and process-count limit (cgroups when the
host lets us create them, rlimits otherwise) and a file-size limit. The wall-clock deadline of a
run is enforced by the executor, which kills the worker.
"""
from __future__ import annotations

import contextlib
import logging
import os
import resource
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("feather.sandbox")

CGROUP_ROOT = Path("/sys/fs/cgroup")
INSIDE_SCRATCH = "/feather/scratch"
NOBODY = 65534


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 1024
    pids: int = 64
    tmp_mb: int = 128
    file_mb: int = 256


def _python_home(python: str) -> Path:
    """The base installation an environment's interpreter comes from (read from pyvenv.cfg)."""
    cfg = Path(python).parent.parent / "pyvenv.cfg"
    for line in cfg.read_text().splitlines() if cfg.exists() else ():
        key, _, value = line.partition("=")
        if key.strip() == "home":
            return Path(value.strip()).parent
    return Path(python).resolve().parent.parent


class Sandbox:
    def __init__(self, root: Path, limits: Limits, *, mode: str = "auto") -> None:
        self.root = root
        self.limits = limits
        self.bwrap = shutil.which("bwrap")
        self.enabled = mode != "off" and self.bwrap is not None and self._works()
        if mode == "required" and not self.enabled:
            raise RuntimeError("the sandbox is required but bubblewrap is missing or cannot run here")
        if not self.enabled and mode != "off":
            log.warning("bubblewrap is not usable here: model workers run WITHOUT a sandbox")
        self.cgroups = self.enabled and os.access(CGROUP_ROOT / "pids", os.W_OK) \
            and os.access(CGROUP_ROOT / "memory", os.W_OK)
        self.sweep()

    def sweep(self) -> None:
        """Remove what workers of a dead executor left: their /tmp mounts, folders and cgroups."""
        if not self.root.exists():
            return
        for scratch in self.root.iterdir():
            owner = scratch.name[1:].split("-", 1)[0]
            if owner.isdigit() and (int(owner) == os.getpid() or Path(f"/proc/{owner}").exists()):
                continue
            self.release(scratch.name)

    def _works(self) -> bool:
        try:
            done = subprocess.run([self.bwrap, "--ro-bind", "/", "/", "--unshare-all", "--", "/bin/true"],
                                  capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0

    def scratch(self, worker_id: str) -> Path:
        path = self.root / worker_id
        for folder in ("tmp", "run/in", "run/out"):
            (path / folder).mkdir(parents=True, exist_ok=True)
        if self.enabled and os.geteuid() == 0:
            # a tmpfs of fixed size, so a model filling /tmp cannot fill the host's disk
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.limits.tmp_mb}m,mode=1777",
                            "tmpfs", str(path / "tmp")], capture_output=True)
        return path

    def inside(self, outside: Path, scratch: Path) -> str:
        """The path a sandboxed worker sees for a file in its scratch folder."""
        if not self.enabled:
            return str(outside)
        return str(Path(INSIDE_SCRATCH) / outside.relative_to(scratch))

    def outside(self, inside: str, scratch: Path) -> Path:
        if not self.enabled:
            return Path(inside)
        return scratch / Path(inside).relative_to(INSIDE_SCRATCH)

    def command(self, argv: list[str], *, python: str, app_dir: str, sdk_dir: str, scratch: Path) -> list[str]:
        if not self.enabled:
            return argv
        ro = ["/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/alternatives", "/etc/ssl", "/etc/ld.so.cache",
              str(_python_home(python)), str(Path(python).parent.parent), app_dir, sdk_dir]
        args = [self.bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                "--uid", str(NOBODY), "--gid", str(NOBODY), "--proc", "/proc", "--dev", "/dev",
                # a run's inputs are read-only to the model and only its output folder is writable,
                # so it cannot plant links where the executor will write or read later
                "--ro-bind", str(scratch / "run" / "in"), f"{INSIDE_SCRATCH}/run/in",
                "--bind", str(scratch / "run" / "out"), f"{INSIDE_SCRATCH}/run/out",
                "--bind", str(scratch / "tmp"), "/tmp",
                "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp", "--chdir", app_dir]
        for path in dict.fromkeys(ro):
            if os.path.exists(path):
                args += ["--ro-bind", path, path]
        return [*args, "--", *argv]

    def preexec(self, worker_id: str):
        """Runs in the child before exec: join the worker's cgroups, set rlimits."""
        groups = self._cgroups(worker_id) if self.cgroups else []
        limits = self.limits

        def apply() -> None:
            for group in groups:
                (group / "cgroup.procs").write_text(str(os.getpid()))
            file_bytes = limits.file_mb * 2**20
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
            if not groups:  # without cgroups, rlimits are the fallback (weaker: per process)
                memory = limits.memory_mb * 2**20 * 4
                resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
                resource.setrlimit(resource.RLIMIT_NPROC, (limits.pids, limits.pids))
        return apply

    def _cgroups(self, worker_id: str) -> list[Path]:
        pids = CGROUP_ROOT / "pids" / "feather" / worker_id
        memory = CGROUP_ROOT / "memory" / "feather" / worker_id
        for group in (pids, memory):
            group.mkdir(parents=True, exist_ok=True)
        (pids / "pids.max").write_text(str(self.limits.pids))
        (memory / "memory.limit_in_bytes").write_text(str(self.limits.memory_mb * 2**20))
        with contextlib.suppress(OSError):  # no swap to escape into
            (memory / "memory.memsw.limit_in_bytes").write_text(str(self.limits.memory_mb * 2**20))
        return [pids, memory]

    def out_of_memory(self, worker_id: str) -> bool:
        group = CGROUP_ROOT / "memory" / "feather" / worker_id
        with contextlib.suppress(OSError, ValueError):
            for line in (group / "memory.oom_control").read_text().splitlines():
                if line.startswith("oom_kill "):
                    return int(line.split()[1]) > 0
            return int((group / "memory.failcnt").read_text()) > 0
        return False

    def release(self, worker_id: str) -> None:
        scratch = self.root / worker_id
        subprocess.run(["umount", str(scratch / "tmp")], capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
        for kind in ("pids", "memory"):
            with contextlib.suppress(OSError):
                (CGROUP_ROOT / kind / "feather" / worker_id).rmdir()
