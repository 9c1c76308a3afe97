"""The seccomp filter every sandboxed worker runs under, compiled with libseccomp's Python bindings.

Run as a script by an interpreter that has those bindings (Debian: python3-seccomp), it writes
the compiled BPF program to the file it is given; bubblewrap loads it with ``--seccomp FD``
just before it starts the worker. Everything is allowed except what a model never needs and
what sandbox escapes are built from: new namespaces, mounts, tracing other processes, kernel
keyrings, BPF, perf, userfaultfd, loading kernels or modules.

Only this file's standard-library imports and ``seccomp`` are used: it runs outside the project.
"""
from __future__ import annotations

import errno
import sys

DENIED = (
    # namespaces and mounts: the sandbox is built from these
    "unshare", "setns", "mount", "umount", "umount2", "pivot_root", "chroot", "mount_setattr",
    "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree",
    # other processes' memory and file handles
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "open_by_handle_at", "name_to_handle_at",
    # kernel attack surface a model has no use for
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "swapon", "swapoff", "reboot", "acct", "quotactl", "syslog", "lookup_dcookie",
    "iopl", "ioperm", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "vhangup",
    "nfsservctl", "uselib", "personality",
    # large kernel surfaces with a history of escapes, and memory hidden from the kernel
    "io_uring_setup", "io_uring_enter", "io_uring_register", "memfd_secret",
)
# clone with any of these flags makes a namespace (values from linux/sched.h)
NAMESPACE_FLAGS = {
    "CLONE_NEWTIME": 0x00000080, "CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000, "CLONE_NEWIPC": 0x08000000, "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000, "CLONE_NEWNET": 0x40000000,
}
TIOCSTI = 0x5412  # pushes keystrokes into a terminal
TIOCLINUX = 0x541C


def build(out_path: str) -> None:
    import seccomp  # libseccomp's own bindings

    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    deny = seccomp.ERRNO(errno.EPERM)
    for name in DENIED:
        try:
            rules.add_rule(deny, name)
        except (RuntimeError, ValueError, OSError):  # not a system call on this architecture
            continue
    # clone's flags are its first argument on x86_64 and arm64 (the architectures feather runs on)
    for flag in NAMESPACE_FLAGS.values():
        rules.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory, where a filter cannot look: refuse it as unknown, so
    # the C library falls back to clone, whose flags are checked above
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    for request in (TIOCSTI, TIOCLINUX):
        rules.add_rule(deny, "ioctl", seccomp.Arg(1, seccomp.MASKED_EQ, 0xFFFFFFFF, request))
    with open(out_path, "wb") as handle:
        rules.export_bpf(handle)


if __name__ == "__main__":
    build(sys.argv[1])
