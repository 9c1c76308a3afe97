"""Rules of a build, with no I/O: what identifies an environment, what a build is called."""
from __future__ import annotations

from services.contracts.versions import version_key

import hashlib
import json
import re
import sys

BUILD_TIMEOUT_S = 900


def env_key(requirements: list[str], python: str) -> str:
    """Environments are shared by every version with the same requirements and Python."""
    normal = sorted({r.strip() for r in requirements if r.strip()})
    blob = json.dumps({"python": python, "requirements": normal}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def python_for(wanted: str) -> str:
    """The interpreter to build with: this one when it is the version asked for, else a
    version request uv understands (never a path: the registry only accepts '3.N')."""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if wanted in ("", here):
        return sys.executable
    if not re.fullmatch(r"3\.\d{1,2}", wanted):
        raise ValueError(f"unsupported Python version {wanted!r}")
    return wanted


def build_id(model_id: str, version: int) -> str:
    return version_key(model_id, version)  # one build per version
