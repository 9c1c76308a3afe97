"""Sandboxing a model's worker process with bubblewrap, seccomp, cgroups and an unprivileged uid.

Each worker sees: the system's /usr and libraries, the interpreter paths its builder recorded,
its environment, its code and the SDK, all read-only; its run's inputs read-only; a sized
output folder, /tmp and /dev/shm; a minimal read-only /dev; its own /proc. It has no network
(its own network namespace), cannot make namespaces, mount, trace or load anything into the
kernel (seccomp), and has memory, process, CPU and file-size limits.

Two ways in, by who the executor is:
- root: bubblewrap builds the sandbox with real privileges and no user namespace, then
  ``setpriv`` switches to the worker uid, which owns nothing on the host;
- not root: bubblewrap makes an unprivileged user namespace (``--disable-userns`` stops the
  model making another); the worker keeps the executor's uid, so the host's file permissions
  protect less (see docs/security.md).
Nothing the model controls decides what is mounted: the paths come from the runtime the
builder recorded, never from a file inside the environment.
"""
from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from services.executor import limits as _limits
from services.executor.limits import Control, Limits

log = logging.getLogger("feather.sandbox")

INSIDE_SCRATCH = "/feather/scratch"
SANDBOX_UID = 65534  # the uid a worker sees itself as inside a user namespace
SYSTEM_PATHS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc/alternatives", "/etc/ssl",
                "/etc/ld.so.cache", "/etc/localtime")
SECCOMP_SCRIPT = Path(__file__).resolve().parent / "seccomp_filter.py"
FIX_MISSING = ("install it (Debian/Ubuntu: apt-get install bubblewrap), or, on a machine that only runs "
               "your own models, set FEATHER_SANDBOX=off")
FIX_USERNS = ("allow unprivileged user namespaces (sysctl -w kernel.unprivileged_userns_clone=1 or "
              "user.max_user_namespaces=15000; in a container, a seccomp profile that permits them), "
              "or run the executor as root")

__all__ = ["Limits", "Sandbox", "SandboxUnavailable", "interpreter_mounts_ok"]


class SandboxUnavailable(RuntimeError):
    """Raised for a run when the sandbox is required and cannot work on this host."""


@dataclass(frozen=True)
class WorkerIdentity:
    uid: int
    gid: int


class Sandbox:
    def __init__(self, root: Path, limits: Limits, *, mode: Literal["required", "off"] = "required",
                 worker_uid: int | None = None, worker_user: str = "feather-worker",
                 seccomp_python: str = "/usr/bin/python3", forbidden: Sequence[Path] = (),
                 runtimes: Sequence[Path] = (),
                 workers_total: int = 8, as_root: bool | None = None) -> None:
        self.root = root
        self.limits = limits
        self.mode = mode
        self.enabled = mode != "off"
        # as root unless told otherwise (tests run the unprivileged way as root too)
        self.privileged = os.geteuid() == 0 if as_root is None else as_root and os.geteuid() == 0
        self.forbidden = [Path(p).resolve() for p in (*forbidden, root)]
        self.runtimes = [Path(p).resolve() for p in runtimes]  # inside forbidden, where runtimes live
        self.workers_total = workers_total
        self.bwrap = shutil.which("bwrap")
        self.setpriv = shutil.which("setpriv")
        self.prlimit = shutil.which("prlimit")
        self.identity: WorkerIdentity | None = None
        self.seccomp: bytes = b""
        self.disable_userns = False
        self.problem: str | None = None
        self.control: Control = _limits.Rlimits(limits)
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        if self.enabled:
            self.problem = self._prepare(worker_uid, worker_user, seccomp_python)
            if self.problem:
                log.error("the sandbox cannot run, so no model will run: %s", self.problem)
        else:
            log.warning("FEATHER_SANDBOX=off: model code runs unsandboxed, with the executor's rights; "
                        "only for your own models on your own machine")
        self.sweep()

    # --- checks at start ------------------------------------------------------------------

    def _prepare(self, worker_uid: int | None, worker_user: str, seccomp_python: str) -> str | None:
        if self.bwrap is None:
            return f"bubblewrap (bwrap) is not installed: {FIX_MISSING}"
        usage = subprocess.run([self.bwrap, "--help"], capture_output=True, text=True).stdout
        if "--size" not in usage or "--seccomp" not in usage:
            return "bubblewrap is too old (0.8 or newer sizes the sandbox's tmpfs): upgrade it"
        self.disable_userns = "--disable-userns" in usage
        if self.privileged:
            if self.setpriv is None:
                return "setpriv (util-linux) is missing: it switches workers to their unprivileged uid"
            identity = _identity(worker_uid, worker_user)
            if isinstance(identity, str):
                return identity
            self.identity = identity
        self.seccomp, problem = _compile_seccomp(seccomp_python)
        if problem:
            return problem
        self.control = _limits.detect(self.limits)
        return self._try()

    def _try(self) -> str | None:
        """Start the sandbox once around /bin/true, exactly as a worker's would be, limits included."""
        probe = f"w{os.getpid()}-probe"
        fds: list[int] = []
        try:
            scratch = self.scratch(probe)
            argv, fds = self.command(["/bin/true"], runtime_mounts=[], scratch=scratch, chdir="/")
            done = subprocess.run(argv, capture_output=True, text=True, timeout=20, pass_fds=fds,
                                  preexec_fn=self.preexec(probe))
        except (OSError, subprocess.SubprocessError) as exc:
            return f"the sandbox could not start: {exc}"
        finally:
            for fd in fds:
                os.close(fd)
            self.release(probe)
        if done.returncode != 0:  # a sandbox that cannot run /bin/true runs no model either
            reason = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
            if self.privileged:
                return f"bubblewrap failed as root ({reason}); see docs/security.md"
            return f"bubblewrap cannot create its namespaces here ({reason}): {FIX_USERNS}"
        return None

    @property
    def _userns_disabled(self) -> bool:
        """Only a sandbox in a user namespace of its own can forbid nested ones."""
        return self.disable_userns and not self.privileged

    def require(self) -> None:
        if self.problem:
            raise SandboxUnavailable(f"the sandbox cannot run on this host: {self.problem}")

    def health(self) -> dict[str, Any]:
        if not self.enabled:
            return {"mode": "off", "warning": "model code runs unsandboxed with the executor's rights"}
        answer: dict[str, Any] = {"mode": self.mode, "ready": self.problem is None}
        if self.problem:
            answer["problem"] = self.problem
            return answer
        answer.update(
            isolation="root+setpriv" if self.privileged else "user namespace",
            worker_uid=self.identity.uid if self.identity else os.geteuid(),
            separate_uid=self.identity is not None,
            seccomp=True, nested_userns="denied by seccomp" + (" and --disable-userns" if self._userns_disabled else ""),
            limits={**self.control.describe(),
                    "memory_mb": self.limits.memory_mb, "pids": self.limits.pids, "cpus": self.limits.cpus,
                    "run_cpu_s": self.limits.run_cpu_s, "tmp_mb": self.limits.tmp_mb,
                    "shm_mb": self.limits.tmp_mb, "file_mb": self.limits.file_mb,
                    "output_mb": self.limits.output_mb})
        return answer

    # --- one worker ------------------------------------------------------------------------

    def sweep(self) -> None:
        """Remove what workers of a dead executor left: their output mounts, folders and cgroups."""
        for name in {p.name for p in self.root.iterdir()} | set(_limits.orphans(self.control, _owner_alive)):
            if not _owner_alive(name):
                self.release(name)

    def scratch(self, worker_id: str) -> Path:
        path = self.root / worker_id
        for folder in ("run/in", "run/out") if self.enabled else ("run/in", "run/out", "tmp"):
            (path / folder).mkdir(parents=True, exist_ok=True)
        os.chmod(path / "run" / "in", 0o755)  # the worker reads inputs through its read-only mount
        if self.enabled and self.privileged and self.identity is not None:
            # a sized tmpfs that only the worker uid may write, so outputs cannot fill the host's disk
            done = subprocess.run(["mount", "-t", "tmpfs", "-o",
                                   f"size={self.limits.output_mb}m,mode=0700,uid={self.identity.uid},"
                                   f"gid={self.identity.gid},nosuid,nodev", "tmpfs", str(path / "run" / "out")],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                self.release(worker_id)
                raise OSError(f"cannot mount the worker's output folder: {done.stderr.strip()}")
        return path

    def inside(self, outside: Path, scratch: Path) -> str:
        """The path a sandboxed worker sees for a file in its scratch folder."""
        if not self.enabled:
            return str(outside)
        return str(Path(INSIDE_SCRATCH) / outside.relative_to(scratch))

    def outputs_inside(self, scratch: Path) -> str:
        """The output folder as the worker sees it."""
        return f"{INSIDE_SCRATCH}/run/out" if self.enabled else str(scratch / "run" / "out")

    def outputs_dir(self, scratch: Path, pid: int) -> tuple[Path, int]:
        """The output folder as the executor reaches it, and that folder held open.

        Without root it is a tmpfs inside the sandbox, reached through the root in /proc of the
        sandbox's first process (the only child of the worker's bubblewrap). It is checked to
        still be that child once the folder is open, so the descriptor is of this sandbox's
        folder even if that process dies and its pid is reused later.
        """
        if not self.enabled or self.privileged:
            path = scratch / "run" / "out"
            return path, os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        children = Path(f"/proc/{pid}/task/{pid}/children")
        first = children.read_text().split()[0]
        path = Path(f"/proc/{first}/root{INSIDE_SCRATCH}/run/out")
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        if children.read_text().split()[:1] != [first]:
            os.close(fd)
            raise OSError(f"the sandbox's first process {first} went away as it started")
        return path, fd

    def outside(self, inside: str, outputs: Path) -> Path:
        """Where the executor reads a file the worker wrote into its output folder."""
        if not self.enabled:
            return Path(inside)
        return outputs / Path(inside).relative_to(f"{INSIDE_SCRATCH}/run/out")

    def command(self, argv: list[str], *, runtime_mounts: Sequence[str], scratch: Path,
                chdir: str) -> tuple[list[str], list[int]]:
        """The command line that runs ``argv`` in the sandbox, and the descriptors it needs passed."""
        if not self.enabled:
            return argv, []
        limits = self.limits
        if self.privileged:
            # real privileges build the sandbox; setpriv below drops to the worker uid
            args = [self.bwrap, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                    "--unshare-cgroup-try", "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                    # setpriv needs it to empty the bounding set; all three go with the uid switch
                    "--cap-add", "CAP_SETPCAP"]
        else:
            args = [self.bwrap, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID),
                    "--gid", str(SANDBOX_UID), "--cap-drop", "ALL"]
            if self._userns_disabled:
                args.append("--disable-userns")
        args += ["--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev",
                 "--size", str(limits.tmp_mb * 2**20), "--perms", "1777", "--tmpfs", "/dev/shm",
                 "--remount-ro", "/dev",
                 "--size", str(limits.tmp_mb * 2**20), "--perms", "1777", "--tmpfs", "/tmp"]
        made: set[str] = {"/", "/dev", "/proc", "/tmp"}
        mounts = [p for p in SYSTEM_PATHS if os.path.lexists(p)]
        # a recorded path under a system folder (Debian's /usr/lib/python3.11) is already there
        mounts += [p for p in runtime_mounts if not any(Path(p).is_relative_to(s) for s in mounts)]
        for path in dict.fromkeys(mounts):
            args += _parents(path, made) + ["--ro-bind", path, path]
        args += _parents(f"{INSIDE_SCRATCH}/run/in", made)
        args += ["--ro-bind", str(scratch / "run" / "in"), f"{INSIDE_SCRATCH}/run/in"]
        # only the output folder is writable, and sized: as root a tmpfs the executor mounted for
        # the worker uid, else one inside the sandbox (the executor reads it through /proc)
        if self.privileged:
            args += ["--bind", str(scratch / "run" / "out"), f"{INSIDE_SCRATCH}/run/out"]
        else:
            args += ["--size", str(limits.output_mb * 2**20), "--perms", "0700", "--tmpfs", f"{INSIDE_SCRATCH}/run/out"]
        # the sandbox's own root read-only: nothing above the mounts can be renamed or replaced
        args += ["--remount-ro", "/", "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp", "--chdir", chdir]
        fds: list[int] = []
        if self.seccomp:
            fd = os.memfd_create("feather-seccomp", 0)
            os.write(fd, self.seccomp)
            os.lseek(fd, 0, os.SEEK_SET)
            fds.append(fd)
            args += ["--seccomp", str(fd)]
        if not self.privileged and not self.control.counts_processes and self.prlimit:
            # inside the user namespace the count is of this worker's processes alone
            argv = [self.prlimit, f"--nproc={limits.pids}", "--", *argv]
        if self.privileged and self.identity is not None:
            argv = [self.setpriv, f"--reuid={self.identity.uid}", f"--regid={self.identity.gid}", "--clear-groups",
                    "--inh-caps=-all", "--bounding-set=-all", "--", *argv]
        return [*args, "--", *argv], fds

    def mounts_for(self, runtime: dict[str, Any], sdk_dir: str) -> list[str]:
        """What a runtime's worker may see, refusing paths that would reveal the platform's data."""
        interpreter = runtime.get("interpreter") or {}
        recorded = interpreter.get("mounts")
        if not isinstance(recorded, list) or not recorded:
            raise SandboxUnavailable("this version's runtime does not say which interpreter it was built with; "
                                     "publish it again to rebuild it")
        env_dir = runtime.get("env_dir") or str(Path(runtime["python"]).parent.parent)
        paths = [*recorded, env_dir, runtime["app_dir"], sdk_dir]
        for path in paths:
            if not interpreter_mounts_ok(path, self.forbidden, self.runtimes):
                raise SandboxUnavailable(f"the runtime asks to mount {path!r}, which would expose the platform")
        return paths

    def preexec(self, worker_id: str) -> Callable[[], None]:
        """Runs in the child before exec: join the worker's cgroups, set rlimits."""
        if self.enabled:
            self.control.create(worker_id)
        nproc = None
        if self.enabled and self.identity is not None and not self.control.counts_processes:
            # every worker has the one worker uid, and RLIMIT_NPROC counts per uid: they share it
            nproc = self.limits.pids * self.workers_total
        # (without root the limit is set inside the sandbox's user namespace, see command();
        # set here it would count every process of the executor's own uid)
        return self.control.join(worker_id, nproc=nproc)

    def cpu_seconds(self, worker_id: str, pid: int) -> float:
        return self.control.cpu_seconds(worker_id, pid)

    def out_of_memory(self, worker_id: str) -> bool:
        return self.control.out_of_memory(worker_id)

    def release(self, worker_id: str) -> None:
        scratch = self.root / worker_id
        if self.privileged and os.path.ismount(scratch / "run" / "out"):
            subprocess.run(["umount", "-l", str(scratch / "run" / "out")], capture_output=True)
        # what is left is the executor's own (inputs it wrote, empty folders): never deep
        shutil.rmtree(scratch, ignore_errors=True)
        self.control.remove(worker_id)


def _owner_alive(worker_id: str) -> bool:
    """Worker ids are w<executor pid>-<n>: is that executor still running?"""
    owner = worker_id[1:].split("-", 1)[0]
    return owner.isdigit() and (int(owner) == os.getpid() or Path(f"/proc/{owner}").exists())


def interpreter_mounts_ok(path: object, forbidden: Sequence[Path], runtimes: Sequence[Path] = ()) -> bool:
    """An absolute path that is not the root, holds none of the forbidden folders, and lies in
    one only where runtimes are kept (environments, code)."""
    if not isinstance(path, str) or not os.path.isabs(path) or os.path.normpath(path) == "/":
        return False
    resolved = Path(path).resolve()
    if any(resolved == f or resolved in f.parents for f in forbidden):
        return False
    inside = [f for f in forbidden if f in resolved.parents]
    return not inside or any(r in resolved.parents for r in runtimes)


def _parents(path: str, made: set[str]) -> list[str]:
    """Folders above a mount point, world-traversable (bubblewrap would make them 0700)."""
    args: list[str] = []
    for parent in reversed(Path(path).parents):
        name = str(parent)
        if name not in made:
            made.add(name)
            args += ["--perms", "0755", "--dir", name]
    return args


def _identity(worker_uid: int | None, worker_user: str) -> WorkerIdentity | str:
    if worker_uid is not None:
        with contextlib.suppress(KeyError):
            return WorkerIdentity(worker_uid, pwd.getpwuid(worker_uid).pw_gid)
        return WorkerIdentity(worker_uid, worker_uid)
    try:
        entry = pwd.getpwnam(worker_user)
    except KeyError:
        return (f"there is no worker user {worker_user!r} for model code to run as: create it "
                f"(useradd --system --no-create-home --user-group {worker_user}) or set FEATHER_WORKER_UID")
    if entry.pw_uid == 0:
        return f"the worker user {worker_user!r} is root: pick an unprivileged one"
    return WorkerIdentity(entry.pw_uid, entry.pw_gid)


def _compile_seccomp(python: str) -> tuple[bytes, str | None]:
    """The filter as BPF, compiled by an interpreter that has libseccomp's bindings."""
    fix = "install libseccomp's Python bindings (Debian/Ubuntu: apt-get install python3-seccomp)"
    if not (shutil.which(python) or os.path.exists(python)):
        return b"", f"no interpreter {python!r} to compile the seccomp filter: {fix}, or set FEATHER_SECCOMP_PYTHON"
    done = subprocess.run([python, "-I", str(SECCOMP_SCRIPT), "/proc/self/fd/1"], capture_output=True, timeout=30)
    if done.returncode != 0 or not done.stdout:
        reason = (done.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        return b"", f"the seccomp filter could not be compiled ({reason}): {fix}"
    return done.stdout, None
