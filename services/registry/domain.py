"""Rules about models and versions, with no I/O."""
from __future__ import annotations

import json
import re
import tarfile
import zlib
from dataclasses import dataclass
from typing import Any

from feather import Batch

from services.contracts.bundles import BundleTooLarge, Inflating, within_limits

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
MANIFEST_FILE = "feather.json"
REQUIREMENTS_FILE = "requirements.txt"
# tarfile reads a header record (pax attributes, a long name) whole before the member it
# describes; real ones hold a path or two, so anything larger is refused before it is read
MAX_HEADER_RECORD_BYTES = 64 * 1024
_HEADER_RECORDS = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE,
                   tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)


class InvalidBundle(ValueError):
    """The uploaded bundle cannot be published; the message says which part and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class OversizeBundle(InvalidBundle):
    """The bundle, or one member of it, is over a size limit (413, where other problems are 422)."""

    def __init__(self, reason: str, member: str | None = None) -> None:
        super().__init__("bundle", f"{member} is {reason}" if member else reason)
        self.member = member


@dataclass(frozen=True)
class Bundle:
    manifest: dict[str, Any]
    requirements: list[str]

    @property
    def name(self) -> str:
        return self.manifest["name"]


def read_bundle(data: bytes, *, max_bundle_mb: int = 20, max_unpacked_mb: int = 200, max_members: int = 2000,
                max_manifest_kb: int = 256, max_requirements_kb: int = 64) -> Bundle:
    """Check an uploaded bundle and read its manifest, without executing anything in it.

    The archive is read as one stream while it inflates, and every limit is checked before the
    work it bounds: a bundle that unpacks to far more than it uploads costs at most the limits.
    The defaults are the settings' defaults.
    """
    if len(data) > max_bundle_mb * 2**20:
        raise OversizeBundle(f"larger than {max_bundle_mb} MiB")
    small = {MANIFEST_FILE: max_manifest_kb, REQUIREMENTS_FILE: max_requirements_kb}
    names: set[str] = set()
    contents: dict[str, bytes] = {}
    try:
        stream = Inflating(data, max_unpacked_mb)
        with tarfile.open(fileobj=stream, mode="r|", tarinfo=_BoundedTarInfo) as tar:
            for member in within_limits(tar, max_members, max_unpacked_mb):
                _check_member(member)
                name = member.name.removeprefix("./")
                names.add(name)
                if name in small and member.isfile():
                    contents[name] = _read_small(tar, member, name, small[name])
    except BundleTooLarge as exc:
        raise OversizeBundle(str(exc)) from None
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise InvalidBundle("bundle", f"not a gzip tar archive ({exc})") from None
    if MANIFEST_FILE not in names:
        raise InvalidBundle("bundle", f"no {MANIFEST_FILE} in the bundle")
    if "app.py" not in names:
        raise InvalidBundle("bundle", "no app.py in the bundle")
    try:
        manifest = json.loads(contents[MANIFEST_FILE]) if MANIFEST_FILE in contents else None
    except ValueError as exc:  # not JSON, or not UTF-8
        raise InvalidBundle("manifest", f"not valid JSON ({exc})") from None
    try:
        text = contents.get(REQUIREMENTS_FILE, b"").decode()
    except UnicodeDecodeError:
        raise InvalidBundle("requirements", "not UTF-8 text") from None
    requirements = [line.strip() for line in text.splitlines()
                    if line.strip() and not line.strip().startswith("#")]
    check_manifest(manifest)
    for number, line in enumerate(requirements, 1):
        check_requirement(line, number)
    return Bundle(manifest=manifest, requirements=requirements)



def _check_member(member: tarfile.TarInfo) -> None:
    if member.name.startswith("/") or ".." in member.name.split("/"):
        raise InvalidBundle("bundle", f"unsafe path {member.name!r}")
    if not (member.isfile() or member.isdir()):
        raise InvalidBundle("bundle", f"{member.name!r} is not a regular file")


def _read_small(tar: tarfile.TarFile, member: tarfile.TarInfo, name: str, limit_kb: int) -> bytes:
    """A member read into memory: refused by its header's size first, and the read itself stops
    just past the limit, so a wrong header cannot make it large."""
    limit = limit_kb * 1024
    handle = tar.extractfile(member) if member.size <= limit else None
    content = handle.read(limit + 1) if handle else b""
    if member.size > limit or len(content) > limit:
        raise OversizeBundle(f"larger than {limit_kb} KiB", name)
    return content


class _BoundedTarInfo(tarfile.TarInfo):
    """Members whose header records are checked before tarfile reads them (see MAX_HEADER_RECORD_BYTES)."""

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _HEADER_RECORDS and self.size > MAX_HEADER_RECORD_BYTES:
            raise OversizeBundle(f"a tar header record is larger than {MAX_HEADER_RECORD_BYTES // 1024} KiB")
        return super()._proc_member(tar)  # type: ignore[misc]


# A requirement names a package from the index, nothing else: options (-r, -e, --index-url),
# direct URLs and local paths would let a bundle make the builder read or run what it chooses.
REQUIREMENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]+\])?\s*([<>=!~]=?[^;@/\\]*)?(;[^@/\\]*)?$")
PYTHON_RE = re.compile(r"^3\.\d{1,2}$")


def check_requirement(line: str, number: int) -> None:
    if line.startswith("-") or "://" in line or "@" in line or not REQUIREMENT_RE.fullmatch(line):
        raise InvalidBundle(f"requirements.{number}", f"{line!r} is not a package requirement such as "
                                                     "'numpy>=2' (options, URLs and paths are not allowed)")


def check_manifest(manifest: Any) -> None:
    if not isinstance(manifest, dict):
        raise InvalidBundle("manifest", "must be a JSON object")
    if manifest.get("manifest_version") != 1:
        raise InvalidBundle("manifest.manifest_version", "only version 1 is understood")
    name = manifest.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise InvalidBundle("manifest.name", "lowercase letters, digits and '-', starting with a letter, at most 64")
    if not isinstance(manifest.get("python", "3.11"), str) or not PYTHON_RE.fullmatch(manifest.get("python", "3.11")):
        raise InvalidBundle("manifest.python", "a Python version such as '3.11'")
    task = manifest.get("task")
    if task is not None and (not isinstance(task, str) or not NAME_RE.fullmatch(task)):
        raise InvalidBundle("manifest.task", "lowercase letters, digits and '-', starting with a letter, at most 64")
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
        if "batch" in step:
            check_batch(step, f"manifest.steps[{i}].batch")


def check_batch(step: dict[str, Any], where: str) -> None:
    batch = step["batch"]
    problem = Batch.problem(*((batch.get("max_size"), batch.get("max_wait_ms")) if isinstance(batch, dict)
                              else (None, None)))
    if problem is not None:
        raise InvalidBundle(f"{where}.{problem[0]}", problem[1])
    if step.get("streams") or step.get("interactive"):
        raise InvalidBundle(where, "a step that streams or returns interactive outputs cannot take batches")


def next_version(latest: int | None) -> int:
    return (latest or 0) + 1


