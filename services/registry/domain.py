"""Rules about models and versions, with no I/O."""
from __future__ import annotations

import io
import json
import re
import tarfile
from dataclasses import dataclass
from typing import Any

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
MAX_BUNDLE_BYTES = 256 * 1024 * 1024
MANIFEST_FILE = "feather.json"


class InvalidBundle(ValueError):
    """The uploaded bundle cannot be published; the message says which part and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Bundle:
    manifest: dict[str, Any]
    requirements: list[str]

    @property
    def name(self) -> str:
        return self.manifest["name"]


def read_bundle(data: bytes) -> Bundle:
    """Check an uploaded bundle and read its manifest, without executing anything in it."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise InvalidBundle("bundle", f"larger than {MAX_BUNDLE_BYTES // 2**20} MiB")
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            names = set()
            for member in tar.getmembers():
                if member.name.startswith("/") or ".." in member.name.split("/"):
                    raise InvalidBundle("bundle", f"unsafe path {member.name!r}")
                if not (member.isfile() or member.isdir()):
                    raise InvalidBundle("bundle", f"{member.name!r} is not a regular file")
                names.add(member.name.removeprefix("./"))
            if MANIFEST_FILE not in names:
                raise InvalidBundle("bundle", f"no {MANIFEST_FILE} in the bundle")
            if "app.py" not in names:
                raise InvalidBundle("bundle", "no app.py in the bundle")
            manifest_file = tar.extractfile(tar.getmember(_member_name(tar, MANIFEST_FILE)))
            manifest = json.loads(manifest_file.read()) if manifest_file else None
            requirements: list[str] = []
            if "requirements.txt" in names:
                req = tar.extractfile(tar.getmember(_member_name(tar, "requirements.txt")))
                requirements = [line.strip() for line in (req.read().decode() if req else "").splitlines()
                                if line.strip() and not line.strip().startswith("#")]
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise InvalidBundle("bundle", f"not a gzip tar archive ({exc})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidBundle("manifest", f"not valid JSON ({exc})") from None
    check_manifest(manifest)
    for number, line in enumerate(requirements, 1):
        check_requirement(line, number)
    return Bundle(manifest=manifest, requirements=requirements)


# A requirement names a package from the index, nothing else: options (-r, -e, --index-url),
# direct URLs and local paths would let a bundle make the builder read or run what it chooses.
REQUIREMENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]+\])?\s*([<>=!~]=?[^;@/\\]*)?(;[^@/\\]*)?$")
PYTHON_RE = re.compile(r"^3\.\d{1,2}$")


def check_requirement(line: str, number: int) -> None:
    if line.startswith("-") or "://" in line or "@" in line or not REQUIREMENT_RE.match(line):
        raise InvalidBundle(f"requirements.{number}", f"{line!r} is not a package requirement such as "
                                                     "'numpy>=2' (options, URLs and paths are not allowed)")


def _member_name(tar: tarfile.TarFile, name: str) -> str:
    return name if name in tar.getnames() else f"./{name}"


def check_manifest(manifest: Any) -> None:
    if not isinstance(manifest, dict):
        raise InvalidBundle("manifest", "must be a JSON object")
    if manifest.get("manifest_version") != 1:
        raise InvalidBundle("manifest.manifest_version", "only version 1 is understood")
    name = manifest.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidBundle("manifest.name", "lowercase letters, digits and '-', starting with a letter, at most 64")
    if not isinstance(manifest.get("python", "3.11"), str) or not PYTHON_RE.match(manifest.get("python", "3.11")):
        raise InvalidBundle("manifest.python", "a Python version such as '3.11'")
    steps = manifest.get("steps")
    if not isinstance(steps, list) or not steps:
        raise InvalidBundle("manifest.steps", "a model needs at least one step")
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or not isinstance(step.get("name"), str):
            raise InvalidBundle(f"manifest.steps[{i}].name", "missing")
        if not isinstance(step.get("input_schema"), dict):
            raise InvalidBundle(f"manifest.steps[{i}].input_schema", "missing")
        if not step.get("outputs"):
            raise InvalidBundle(f"manifest.steps[{i}].outputs", "a step needs at least one output")


def next_version(latest: int | None) -> int:
    return (latest or 0) + 1


def version_key(model_id: str, version: int) -> str:
    return f"{model_id}@{version}"


# A version's status follows its build; a late or repeated event never moves it backwards.
_STATUS_ORDER = {"building": 0, "ready": 1, "failed": 1}


def status_after(current: str, event_status: str) -> str:
    return event_status if _STATUS_ORDER[event_status] >= _STATUS_ORDER.get(current, 0) else current
