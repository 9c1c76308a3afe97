"""Gateway rules with no I/O: picking a version and step, checking inputs, naming runs."""
from __future__ import annotations

import os
import time
from typing import Any

from jsonschema import Draft202012Validator


class RequestError(Exception):
    """A request the gateway refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


def new_run_id() -> str:
    """Time-ordered, unguessable: 12 hex digits of milliseconds, 16 of randomness."""
    return f"{int(time.time() * 1000):012x}{os.urandom(8).hex()}"


def pick_step(manifest: dict[str, Any], step: str | None) -> dict[str, Any]:
    steps = manifest.get("steps") or []
    if step is None:
        return steps[0]
    for candidate in steps:
        if candidate["name"] == step:
            return candidate
    names = ", ".join(s["name"] for s in steps)
    raise RequestError(422, [{"loc": ["body", "step"], "msg": f"unknown step {step!r}; steps: {names}",
                              "type": "value_error"}])


def check_inputs(step: dict[str, Any], inputs: Any) -> dict[str, Any]:
    """Validate ``inputs`` against the step's schema; every problem names its field."""
    if not isinstance(inputs, dict):
        raise RequestError(422, [{"loc": ["body", "inputs"], "msg": "must be an object", "type": "type_error"}])
    validator = Draft202012Validator(step["input_schema"])
    problems = []
    for error in sorted(validator.iter_errors(inputs), key=lambda e: list(e.path)):
        loc = ["body", "inputs", *[str(p) for p in error.path]]
        msg = error.message
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            loc, msg = ["body", "inputs", missing], "field required"
        elif error.validator == "additionalProperties":
            msg = f"unexpected input: {error.message}"
        problems.append({"loc": loc, "msg": msg, "type": str(error.validator)})
    if problems:
        raise RequestError(422, problems)
    return _with_defaults(step, inputs)


def _with_defaults(step: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    filled = dict(inputs)
    for spec in step.get("inputs", []):
        if spec["name"] not in filled and spec.get("default") is not None:
            filled[spec["name"]] = spec["default"]
    return filled


def parse_prefer_wait(header: str | None, *, limit: float = 60.0) -> float:
    """``Prefer: wait`` or ``Prefer: wait=N`` -> seconds to hold the request; 0 without it."""
    if not header:
        return 0.0
    for part in header.split(","):
        token = part.strip()
        if token == "wait":
            return limit
        if token.startswith("wait="):
            try:
                return max(0.0, min(float(token[5:]), limit))
            except ValueError:
                raise RequestError(400, "Prefer: wait=N needs a number of seconds") from None
    return 0.0


def pick_version(model: dict[str, Any], versions: list[dict[str, Any]], wanted: int | None) -> dict[str, Any]:
    by_number = {v["version"]: v for v in versions}
    if wanted is not None:
        version = by_number.get(wanted)
        if version is None:
            raise RequestError(404, f"{model['_id']} has no version {wanted}")
    else:
        ready = [v for v in versions if v.get("status") == "ready"]
        if ready:
            return max(ready, key=lambda v: v["version"])
        version = by_number.get(model.get("latest_version")) or (versions[-1] if versions else None)
        if version is None:
            raise RequestError(404, f"{model['_id']} has no versions")
    if version.get("status") != "ready":
        reason = {"building": "is still building", "failed": "failed to build"}.get(version.get("status"), "is not ready")
        raise RequestError(409, f"version {version['version']} of {model['_id']} {reason}")
    return version
