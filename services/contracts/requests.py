"""What a run request must be for a manifest step, whoever serves the API (the gateway, or
``feather dev``): the step it names and inputs its schema accepts; refusals name the field."""
from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator


class RequestError(Exception):
    """A request the API refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


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
            loc, msg = [*loc, missing], "field required"
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
