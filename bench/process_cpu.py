"""CPU seconds of process trees, from /proc: what the benchmarks count as a system's CPU."""
from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds each root process (by name: pid) has used so far, with its living descendants
    (an executor's workers, a server's threads are in its own count) counted to it."""
    parent_of, used = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone while we looked
        pid = int(stat.parent.name)
        parent_of[pid] = int(fields[1])
        used[pid] = (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
    owner = {pid: name for name, pid in roots.items()}
    totals = dict.fromkeys(roots, 0.0)
    for pid, cpu in used.items():
        at = pid
        while at > 1 and at not in owner:
            at = parent_of.get(at, 0)
        if at in owner:
            totals[owner[at]] += cpu
    return totals
