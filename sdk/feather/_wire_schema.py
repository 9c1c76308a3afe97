"""The few JSON Schema rules a manifest uses, checked client-side without jsonschema.

Only a subset (type, enum, lengths, bounds, items, required properties, pattern) is
checked; the server validates fully, so anything this skips is still caught there.
"""
from __future__ import annotations

import math
import numbers
import operator
import re
from typing import Any

_JSON_NAMES = {"string": "a string", "number": "a number", "integer": "an integer",
               "boolean": "a boolean", "object": "an object", "array": "an array", "null": "null"}


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, numbers.Real):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return type(value).__name__


def _is(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        number = float(value)
        return kind == "number" or (math.isfinite(number) and number.is_integer())
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, (list, tuple))
    return kind != "null" or value is None


def problem(schema: Any, value: Any) -> str | None:
    """How `value` breaks `schema`, e.g. "must be at most 5, got 7"; None when it does not."""
    if not isinstance(schema, dict):
        return None
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds if isinstance(kinds, list) else []
    if kinds and not any(_is(k, value) for k in kinds):
        expected = " or ".join(_JSON_NAMES.get(k, k) for k in kinds)
        return f"must be {expected}, got {json_type(value)}"
    if "enum" in schema and value not in schema["enum"]:
        return "must be one of " + ", ".join(repr(v) for v in schema["enum"])
    if isinstance(value, str):
        return _string(schema, value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return _number(schema, value)
    if isinstance(value, (list, tuple)):
        return _array(schema, value)
    if isinstance(value, dict):
        return _object(schema, value)
    return None


def _string(schema: dict[str, Any], value: str) -> str | None:
    if isinstance(schema.get("minLength"), int) and len(value) < schema["minLength"]:
        return f"must have at least {schema['minLength']} characters"
    if isinstance(schema.get("maxLength"), int) and len(value) > schema["maxLength"]:
        return f"must have at most {schema['maxLength']} characters"
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            if not re.search(pattern, value):
                return f"must match {pattern!r}"
        except re.error:  # a JSON Schema regex Python cannot compile: leave it to the server
            return None
    return None


_BOUNDS = (("minimum", operator.lt, "at least"), ("maximum", operator.gt, "at most"),
           ("exclusiveMinimum", operator.le, "above"), ("exclusiveMaximum", operator.ge, "below"))


def _number(schema: dict[str, Any], value: numbers.Real) -> str | None:
    for key, broken, words in _BOUNDS:
        limit = schema.get(key)
        if isinstance(limit, numbers.Real) and not isinstance(limit, bool) \
                and broken(float(value), float(limit)):
            return f"must be {words} {limit}, got {value}"
    return None


def _array(schema: dict[str, Any], value: list[Any] | tuple[Any, ...]) -> str | None:
    if isinstance(schema.get("minItems"), int) and len(value) < schema["minItems"]:
        return f"must have at least {schema['minItems']} items"
    if isinstance(schema.get("maxItems"), int) and len(value) > schema["maxItems"]:
        return f"must have at most {schema['maxItems']} items"
    for index, item in enumerate(value):
        found = problem(schema.get("items"), item)
        if found:
            return f"item {index} {found}"
    return None


def _object(schema: dict[str, Any], value: dict[str, Any]) -> str | None:
    for key in schema.get("required") or []:
        if key not in value:
            return f"must have {key!r}"
    for key, sub in (schema.get("properties") or {}).items():
        if key in value:
            found = problem(sub, value[key])
            if found:
                return f"{key!r} {found}"
    return None
