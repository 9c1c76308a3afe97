"""Resource limits for one worker: cgroup v2 where a delegated subtree is writable, cgroup v1
where its hierarchies are, per-process rlimits otherwise.

Each mechanism creates a group per worker before it starts, puts the worker's first process
in it from the child (``join``), reports the CPU time the worker has used (for the per-run CPU
budget and for spotting a worker that keeps running after its step returned), tells whether
the kernel killed it for memory, and removes the group afterwards.
"""
from __future__ import annotations

import abc
import contextlib
import errno
import logging
import os
import resource
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("feather.sandbox")

CGROUP_FS = Path("/sys/fs/cgroup")
CPU_PERIOD_US = 100_000
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 1024
    pids: int = 64
    cpus: float = 1.0  # CPU bandwidth, in cores
    run_cpu_s: float = 600.0  # CPU time one run may use
    tmp_mb: int = 128  # /tmp, and /dev/shm the same again
    output_mb: int = 256
    file_mb: int = 256


class Control(abc.ABC):
    """How one mechanism applies ``Limits`` to a worker."""

    mechanism = ""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    @property
    @abc.abstractmethod
    def enforced(self) -> list[str]:
        """Which of memory, pids and cpu this mechanism holds for the worker as a whole."""

    def create(self, worker_id: str) -> None:
        return None

    @property
    def counts_processes(self) -> bool:
        """Whether this mechanism limits a worker's processes itself (else an rlimit must)."""
        return True

    def join(self, worker_id: str, *, nproc: int | None) -> Callable[[], None]:
        """What the worker's first process runs before exec (in the child: no logging, no locks).
        ``nproc``: a process limit for the worker's uid, where rlimits must stand in for pids."""
        file_bytes = self.limits.file_mb * 2**20

        def apply() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
        return apply

    @abc.abstractmethod
    def cpu_seconds(self, worker_id: str, pid: int) -> float: ...

    def out_of_memory(self, worker_id: str) -> bool:
        return False

    def remove(self, worker_id: str) -> None:
        return None

    def describe(self) -> dict[str, object]:
        return {"mechanism": self.mechanism, "enforced": self.enforced}


class Cgroup2(Control):
    """One child cgroup per worker under a delegated cgroup v2 subtree."""

    mechanism = "cgroup2"

    def __init__(self, limits: Limits, base: Path) -> None:
        super().__init__(limits)
        self.base = base

    @property
    def enforced(self) -> list[str]:
        return ["memory", "pids", "cpu"]

    def group(self, worker_id: str) -> Path:
        return self.base / f"feather-{worker_id}"

    def create(self, worker_id: str) -> None:
        group = self.group(worker_id)
        group.mkdir(exist_ok=True)
        memory = self.limits.memory_mb * 2**20
        (group / "memory.max").write_text(str(memory))
        with contextlib.suppress(OSError):  # no swap to escape into (absent without swap accounting)
            (group / "memory.swap.max").write_text("0")
        (group / "pids.max").write_text(str(self.limits.pids))
        (group / "cpu.max").write_text(f"{max(1000, int(self.limits.cpus * CPU_PERIOD_US))} {CPU_PERIOD_US}")

    def join(self, worker_id: str, *, nproc: int | None) -> Callable[[], None]:
        procs = self.group(worker_id) / "cgroup.procs"
        base = super().join(worker_id, nproc=nproc)

        def apply() -> None:
            procs.write_text(str(os.getpid()))
            base()
        return apply

    def cpu_seconds(self, worker_id: str, pid: int) -> float:
        with contextlib.suppress(OSError, ValueError):
            for line in (self.group(worker_id) / "cpu.stat").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) / 1e6
        return 0.0

    def out_of_memory(self, worker_id: str) -> bool:
        with contextlib.suppress(OSError, ValueError):
            for line in (self.group(worker_id) / "memory.events").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value) > 0
        return False

    def remove(self, worker_id: str) -> None:
        group = self.group(worker_id)
        with contextlib.suppress(OSError):
            (group / "cgroup.kill").write_text("1")
        _remove_group(group)


class Cgroup1(Control):
    """One group per worker in each cgroup v1 hierarchy: memory and pids, cpu and cpuacct where mounted."""

    mechanism = "cgroup1"

    def __init__(self, limits: Limits, bases: dict[str, Path]) -> None:
        super().__init__(limits)
        self.bases = bases  # controller -> this process's group in that hierarchy

    @property
    def enforced(self) -> list[str]:
        return [name for name in ("memory", "pids", "cpu") if name in self.bases]

    def groups(self, worker_id: str) -> dict[str, Path]:
        return {name: base / "feather" / worker_id for name, base in self.bases.items()}

    def create(self, worker_id: str) -> None:
        groups = self.groups(worker_id)
        for group in dict.fromkeys(groups.values()):
            group.mkdir(parents=True, exist_ok=True)
        memory = self.limits.memory_mb * 2**20
        (groups["memory"] / "memory.limit_in_bytes").write_text(str(memory))
        with contextlib.suppress(OSError):  # no swap to escape into
            (groups["memory"] / "memory.memsw.limit_in_bytes").write_text(str(memory))
        (groups["pids"] / "pids.max").write_text(str(self.limits.pids))
        if "cpu" in groups:
            (groups["cpu"] / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
            (groups["cpu"] / "cpu.cfs_quota_us").write_text(str(max(1000, int(self.limits.cpus * CPU_PERIOD_US))))

    def join(self, worker_id: str, *, nproc: int | None) -> Callable[[], None]:
        procs = [group / "cgroup.procs" for group in dict.fromkeys(self.groups(worker_id).values())]
        base = super().join(worker_id, nproc=nproc)

        def apply() -> None:
            for path in procs:
                path.write_text(str(os.getpid()))
            base()
        return apply

    def cpu_seconds(self, worker_id: str, pid: int) -> float:
        group = self.groups(worker_id).get("cpuacct")
        if group is None:
            return tree_cpu_seconds(pid)
        with contextlib.suppress(OSError, ValueError):
            return int((group / "cpuacct.usage").read_text()) / 1e9
        return 0.0

    def out_of_memory(self, worker_id: str) -> bool:
        group = self.groups(worker_id)["memory"]
        with contextlib.suppress(OSError, ValueError):
            for line in (group / "memory.oom_control").read_text().splitlines():
                if line.startswith("oom_kill "):
                    return int(line.split()[1]) > 0
            return int((group / "memory.failcnt").read_text()) > 0
        return False

    def remove(self, worker_id: str) -> None:
        for group in dict.fromkeys(self.groups(worker_id).values()):
            _remove_group(group)


class Rlimits(Control):
    """No writable cgroups: per-process limits, weaker (each process of a worker gets the full
    memory limit, and the process count is per uid)."""

    mechanism = "rlimit"

    @property
    def enforced(self) -> list[str]:
        return ["memory (per process)", "pids (per uid)"]

    @property
    def counts_processes(self) -> bool:
        return False

    def join(self, worker_id: str, *, nproc: int | None) -> Callable[[], None]:
        memory = self.limits.memory_mb * 2**20
        base = super().join(worker_id, nproc=nproc)

        def apply() -> None:
            base()
            resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
            if nproc is not None:
                resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        return apply

    def cpu_seconds(self, worker_id: str, pid: int) -> float:
        return tree_cpu_seconds(pid)


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and every descendant still running (from /proc)."""
    total, pending, seen = 0.0, [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            # utime, stime, cutime, cstime: fields 14-17 of the line, 12-15 after the name
            total += sum(int(v) for v in fields[11:15]) / _CLOCK_TICKS
            for task in os.scandir(f"/proc/{current}/task"):
                with contextlib.suppress(OSError):
                    pending += [int(c) for c in Path(task.path, "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


def _remove_group(group: Path, wait_s: float = 2.0) -> None:
    """Kill what is still in a worker's group, wait for it to empty, and remove it."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            pids = []
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            for child in group.iterdir():  # a v1 group may hold a nested one left by a crash
                if child.is_dir():
                    _remove_group(child, 0.0)
        try:
            group.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                log.warning("cgroup %s is still busy; left for the next sweep", group)
                return
            time.sleep(0.01)


def orphans(control: Control, alive: Callable[[str], bool]) -> list[str]:
    """Worker ids whose groups outlived their executor (to remove at start)."""
    found: set[str] = set()
    if isinstance(control, Cgroup2):
        found = {p.name.removeprefix("feather-") for p in control.base.glob("feather-w*")}
    elif isinstance(control, Cgroup1):
        for base in control.bases.values():
            found |= {p.name for p in (base / "feather").glob("w*")}
    return sorted(w for w in found if not alive(w))


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, filesystem type, super options) of every mount, from /proc/self/mountinfo."""
    found = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            before, _, after = line.partition(" - ")
            parts, tail = before.split(), after.split()
            if len(parts) >= 5 and len(tail) >= 3:
                found.append((parts[4].replace("\\040", " "), tail[0], set(tail[2].split(","))))
    return found


def _own_groups() -> dict[str, str]:
    """This process's cgroup path per hierarchy: controller name (or "" for v2) -> path."""
    groups: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                groups[name] = path
    return groups


WANTED_V2 = ("memory", "pids", "cpu")


def _cgroup2_base(mounts: list[tuple[str, str, set[str]]], own: dict[str, str]) -> Path | None:
    """A cgroup v2 group we may create children in, with memory, pids and cpu enabled for them.

    The group the executor runs in must be delegated to it (writable). A v2 group cannot both
    hold processes and give controllers to children, so the executor moves itself into a leaf
    of its own first; a group holding other processes is not ours to rearrange.
    """
    point = next((m for m, kind, _ in mounts if kind == "cgroup2"), None)
    if point is None or "" not in own:
        return None
    base = Path(point) / own[""].lstrip("/")
    try:
        available = set((base / "cgroup.controllers").read_text().split())
        if not set(WANTED_V2) <= available or not os.access(base, os.W_OK):
            return None
        enabled = set((base / "cgroup.subtree_control").read_text().split())
        missing = [c for c in WANTED_V2 if c not in enabled]
        if missing:
            try:
                (base / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in missing))
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    return None
                others = [p for p in (base / "cgroup.procs").read_text().split() if int(p) != os.getpid()]
                if others:
                    return None
                leaf = base / "feather-executor"
                leaf.mkdir(exist_ok=True)
                (leaf / "cgroup.procs").write_text(str(os.getpid()))
                (base / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in missing))
        return base
    except (OSError, ValueError):
        return None


def _cgroup1_bases(mounts: list[tuple[str, str, set[str]]], own: dict[str, str]) -> dict[str, Path] | None:
    bases: dict[str, Path] = {}
    for point, kind, options in mounts:
        if kind != "cgroup":
            continue
        for name in ("memory", "pids", "cpu", "cpuacct"):
            if name in options and name not in bases:
                base = Path(point) / own.get(name, "/").lstrip("/")
                if base.is_dir() and os.access(base, os.W_OK):
                    bases[name] = base
    if "memory" not in bases or "pids" not in bases:
        return None
    return bases


def detect(limits: Limits) -> Control:
    """The strongest mechanism this host lets the executor use."""
    mounts, own = _mounts(), _own_groups()
    base = _cgroup2_base(mounts, own)
    if base is not None:
        return Cgroup2(limits, base)
    bases = _cgroup1_bases(mounts, own)
    if bases is not None:
        return Cgroup1(limits, bases)
    log.warning("no writable cgroups (v2 delegated subtree or v1 memory and pids): limits are per-process rlimits")
    return Rlimits(limits)
