"""Gateway rules with no I/O: picking a version and step, checking inputs, naming runs."""
from __future__ import annotations

import json
import os
import time
from typing import Any

from feather.rules import MERGED_KINDS, newest_ready
from jsonschema import Draft202012Validator

from services.contracts.requests import RequestError, check_inputs, pick_step
from services.kit.body_limit import human_size

__all__ = ["RequestError", "as_file_values", "check_choices", "check_inputs", "check_size", "new_run_id",
           "parse_prefer_wait", "pick_step", "pick_version", "with_uri_strings"]


def new_run_id() -> str:
    """Time-ordered, unguessable: 12 hex digits of milliseconds, 16 of randomness."""
    return f"{int(time.time() * 1000):012x}{os.urandom(8).hex()}"


def check_size(field: str, value: Any, limit: int) -> None:
    """Refuse ``value`` when its JSON is over ``limit`` bytes (413, naming the field and the limit)."""
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > limit:
        raise RequestError(413, [{"loc": ["body", field], "type": "too_large",
                                  "msg": f"{field} take {human_size(size)} as JSON, over the limit of "
                                         f"{human_size(limit)}; send large values as files (POST /v1/files)"}])


FILE_URL_PREFIXES = ("data:", "https://", "http://", "feather:files/")


def is_file_schema(schema: Any) -> bool:
    """A file value's schema: an object with a ``url`` property."""
    return isinstance(schema, dict) and "url" in (schema.get("properties") or {})


def _alternatives(schema: dict[str, Any]) -> tuple[Any, ...]:
    return (*schema.get("anyOf", ()), *schema.get("oneOf", ()), *schema.get("allOf", ()))


def as_file_values(value: Any, schema: Any) -> Any:
    """``value`` with every file value in the form the platform keeps, found by the schema:

    - a file given as its URL alone (``"data:..."``, ``"https://..."``, ``"feather:files/<id>"``,
      Replicate's convention) becomes ``{"url": ...}``;
    - a caller's ``path`` is removed, at any depth. Only the executor says where a worker reads
      a file from; a caller's ``path`` would make a step open any file its worker can see (a
      model's private weights, say). A JSON input may still hold a key named "path".

    Objects and lists are changed in place; the value is returned, as a string is replaced.
    """
    if not isinstance(schema, dict):
        return value
    alternatives = _alternatives(schema)
    if isinstance(value, str):
        wanted = is_file_schema(schema) or any(is_file_schema(a) for a in alternatives)
        return {"url": value} if wanted and value.startswith(FILE_URL_PREFIXES) else value
    for alternative in alternatives:
        as_file_values(value, alternative)
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        if "url" in properties:
            value.pop("path", None)
        for key, sub in properties.items():
            if key in value:
                value[key] = as_file_values(value[key], sub)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            value[i] = as_file_values(item, schema.get("items"))
    return value


def with_uri_strings(schema: Any) -> Any:
    """A copy of ``schema`` where each file value may also be given as its URL alone, as
    :func:`as_file_values` accepts: what a model's OpenAPI document tells its callers."""
    if isinstance(schema, list):
        return [with_uri_strings(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    copied = {k: with_uri_strings(v) for k, v in schema.items()}
    if is_file_schema(schema):
        uri = {"type": "string", "format": "uri", "pattern": "^(data:|https?://|feather:files/)",
               "description": "the file as a data: URL, an http(s) link or feather:files/<id>"}
        return {"anyOf": [uri, copied]}
    return copied


def check_choices(step: dict[str, Any], choices: Any, carried: set[str] = frozenset()) -> dict[str, Any]:
    """Validate what a caller chose for a later step of a chain, against that step's schema.

    A choice for a pick list or regions an earlier step gives (``carried``) is merged onto them
    (``{"selected": [0, 2]}``; see ``feather.runtime.fill_inputs``), so it is checked field by
    field without the required list; any other choice is the whole value and is checked whole.
    """
    loc = ["body", "choices", step["name"]]
    if not isinstance(choices, dict):
        raise RequestError(422, [{"loc": loc, "msg": "must be an object", "type": "type_error"}])
    schema = step["input_schema"]
    properties = schema.get("properties") or {}
    kinds = {i["name"]: i.get("kind") for i in step.get("inputs", [])}
    problems = []
    for name, value in choices.items():
        if name not in properties:
            problems.append({"loc": [*loc, name], "msg": f"not an input of step {step['name']!r}",
                             "type": "additionalProperties"})
            continue
        value = choices[name] = as_file_values(value, properties[name])
        sub = properties[name]
        if name in carried and kinds.get(name) in MERGED_KINDS and isinstance(value, dict) and isinstance(sub, dict) \
                and sub.get("type") == "object":
            sub = {**sub, "required": []}
        for error in Draft202012Validator(sub).iter_errors(value):
            problems.append({"loc": [*loc, name, *[str(p) for p in error.path]], "msg": error.message,
                             "type": str(error.validator)})
    if problems:
        raise RequestError(422, problems)
    return choices


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
        newest = newest_ready(versions)
        if newest is not None:
            return newest
        version = by_number.get(model.get("latest_version")) or (versions[-1] if versions else None)
        if version is None:
            raise RequestError(404, f"{model['_id']} has no versions")
    if version.get("status") != "ready":
        reason = {"building": "is still building", "failed": "failed to build"}.get(version.get("status"), "is not ready")
        raise RequestError(409, f"version {version['version']} of {model['_id']} {reason}")
    return version
