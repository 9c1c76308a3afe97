"""The sandbox suite once more, with the whole platform run by a user who is not root: the executor
then makes an unprivileged user namespace instead of switching uids, and limits fall back to what
that user may set. Runs where this machine lets such a user run the project's interpreter."""
from __future__ import annotations

import os
import pwd
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from package_index import NOTES

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
USER = "nobody"


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return f"this suite already runs as uid {os.geteuid()}, not root"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return f"there is no user {USER!r}"
    probe = subprocess.run(["runuser", "-u", USER, "--", sys.executable, "-c", "import services, feather"],
                           cwd=ROOT, capture_output=True, text=True)
    if probe.returncode != 0:
        line = (probe.stderr.strip().splitlines() or ["it exited with " + str(probe.returncode)])[-1]
        return f"user {USER!r} cannot run {sys.executable} ({line})"
    return None


def test_the_sandbox_suite_holds_when_the_platform_is_not_root() -> None:
    reason = _why_not()
    if reason:
        NOTES.append(f"the sandbox suite was not run as a non-root user: {reason}")
        pytest.skip(reason)
    home = Path(tempfile.mkdtemp(prefix="feather-unprivileged-"))
    entry = pwd.getpwnam(USER)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    # runuser keeps this environment (the machine's TLS settings among it) but sets HOME from the
    # user's entry, and nobody's does not exist: env gives it one
    env = ["env", f"HOME={home}"]
    done = subprocess.run(["runuser", "-u", USER, "--", *env, sys.executable, "-m", "pytest", "-q",
                           "-p", "no:cacheprovider", f"--basetemp={home / 'tests'}", "tests/e2e/test_sandbox.py"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    NOTES.append(f"the sandbox suite ran again with the platform as user {USER!r} "
                 f"(user namespace, no uid switch): {summary}")
