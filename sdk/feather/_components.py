"""Input and output components: how a value is described, validated and converted.

A component keeps static `props` (UI hints and limits) apart from the value.
New kinds subclass `Component`, set `kind`/`can_input`/`can_output` and implement
`props`, `json_schema`, `encode` and `decode`.
"""
from __future__ import annotations

import json
import math
import numbers
import re
from typing import Any, ClassVar, NoReturn

from ._errors import DefinitionError, InvalidInput, caller_location

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Component:
    kind: ClassVar[str] = ""
    can_input: ClassVar[bool] = True
    can_output: ClassVar[bool] = True

    def __init__(self, name: str, *, label: str | None = None,
                 description: str | None = None, default: Any = None) -> None:
        self._file, self._line = caller_location()
        # Names become keyword arguments of the step function, so they must be identifiers.
        if not isinstance(name, str) or not _NAME.match(name):
            self._fail(f"{type(self).__name__} name must be a Python identifier, got {name!r}")
        self.name = name
        self.label = label if label is not None else _label_from(name)
        self.description = description
        self.default = default

    @property
    def required(self) -> bool:
        return self.default is None

    @property
    def props(self) -> dict[str, Any]:
        return {}

    def json_schema(self) -> dict[str, Any]:
        return {}

    def encode(self, value: Any) -> Any:
        """Python value returned by a step -> JSON value; TypeError names the output."""
        return value

    def decode(self, value: Any) -> Any:
        """JSON value from a request -> Python value; InvalidInput names the input."""
        return value

    def _check_default(self) -> None:
        if self.default is not None:
            try:
                self.decode(self.default)
            except InvalidInput as exc:
                self._fail(f"default of {self.name!r} is invalid: {exc}")

    def _fail(self, message: str) -> NoReturn:
        raise DefinitionError(message, self._file, self._line)

    def _invalid(self, message: str) -> InvalidInput:
        return InvalidInput(f"input {self.name!r} {message}", field=self.name)

    def _wrong_type(self, expected: str, value: Any) -> TypeError:
        return TypeError(f"output {self.name!r} ({self.kind}) expects {expected}, "
                         f"got {type(value).__name__}: {value!r:.80}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def _label_from(name: str) -> str:
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _drop_unset(**values: Any) -> dict[str, Any]:
    # Only settings that differ from the defaults go into props, so manifests stay small.
    return {k: v for k, v in values.items() if v is not None and v is not False}


class Text(Component):
    kind = "text"

    def __init__(self, name: str, *, label: str | None = None, description: str | None = None,
                 default: str | None = None, min_length: int | None = None,
                 max_length: int | None = None, placeholder: str | None = None,
                 multiline: bool = False) -> None:
        super().__init__(name, label=label, description=description, default=default)
        for key, limit in (("min_length", min_length), ("max_length", max_length)):
            if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
                self._fail(f"Text {name!r}: {key} must be a non-negative int, got {limit!r}")
        if min_length is not None and max_length is not None and min_length > max_length:
            self._fail(f"Text {name!r}: min_length {min_length} is above max_length {max_length}")
        self.min_length, self.max_length = min_length, max_length
        self.placeholder, self.multiline = placeholder, bool(multiline)
        self._check_default()

    @property
    def props(self) -> dict[str, Any]:
        return _drop_unset(min_length=self.min_length, max_length=self.max_length,
                           placeholder=self.placeholder, multiline=self.multiline)

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.min_length is not None:
            schema["minLength"] = self.min_length
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        return schema

    def encode(self, value: Any) -> str:
        if not isinstance(value, str):
            raise self._wrong_type("a str", value)
        return value

    def decode(self, value: Any) -> str:
        if not isinstance(value, str):
            raise self._invalid(f"must be a string, got {_json_type(value)}")
        if self.min_length is not None and len(value) < self.min_length:
            raise self._invalid(f"must have at least {self.min_length} characters")
        if self.max_length is not None and len(value) > self.max_length:
            raise self._invalid(f"must have at most {self.max_length} characters")
        return value


def _json_type(value: Any) -> str:
    names = {bool: "a boolean", str: "a string", int: "a number", float: "a number",
             list: "an array", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _is_number(value: Any) -> bool:
    # numbers.Real also admits numpy scalars; bool is an int subclass but not a number here.
    return isinstance(value, numbers.Real) and not isinstance(value, bool)



class Number(Component):
    kind = "number"

    def __init__(self, name: str, *, label: str | None = None, description: str | None = None,
                 default: float | None = None, minimum: float | None = None,
                 maximum: float | None = None, step: float | None = None,
                 integer: bool = False) -> None:
        super().__init__(name, label=label, description=description, default=default)
        for key, limit in (("minimum", minimum), ("maximum", maximum), ("step", step)):
            if limit is not None and not _is_number(limit):
                self._fail(f"Number {name!r}: {key} must be a number, got {limit!r}")
        if minimum is not None and maximum is not None and minimum > maximum:
            self._fail(f"Number {name!r}: minimum {minimum} is above maximum {maximum}")
        self.minimum, self.maximum, self.step, self.integer = minimum, maximum, step, bool(integer)
        self._check_default()

    @property
    def props(self) -> dict[str, Any]:
        return _drop_unset(minimum=self.minimum, maximum=self.maximum,
                           step=self.step, integer=self.integer)

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer" if self.integer else "number"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema

    def encode(self, value: Any) -> float | int:
        if not _is_number(value) or not math.isfinite(value):
            raise self._wrong_type("a finite number", value)
        if self.integer:
            if value != int(value):
                raise self._wrong_type("an integer", value)
            return int(value)
        return int(value) if isinstance(value, numbers.Integral) else float(value)

    def decode(self, value: Any) -> float | int:
        if not _is_number(value) or not math.isfinite(value):
            raise self._invalid(f"must be a number, got {_json_type(value)}")
        if self.integer and value != int(value):
            raise self._invalid(f"must be an integer, got {value}")
        if self.minimum is not None and value < self.minimum:
            raise self._invalid(f"must be at least {self.minimum}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise self._invalid(f"must be at most {self.maximum}, got {value}")
        return int(value) if self.integer else value


class JSON(Component):
    """Any JSON value (output only for now)."""
    kind = "json"
    can_input = False

    def encode(self, value: Any) -> Any:
        # A round trip turns tuples into lists and proves the value is strict JSON.
        try:
            return json.loads(json.dumps(value, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"output {self.name!r} (json) is not JSON-serializable: {exc}") from None


class Label(Component):
    """A classification: the top label plus confidences sorted high to low."""
    kind = "label"
    can_input = False

    def __init__(self, name: str, *, label: str | None = None, description: str | None = None,
                 top_k: int | None = None) -> None:
        super().__init__(name, label=label, description=description)
        if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
            self._fail(f"Label {name!r}: top_k must be a positive int, got {top_k!r}")
        self.top_k = top_k

    @property
    def props(self) -> dict[str, Any]:
        return _drop_unset(top_k=self.top_k)

    def json_schema(self) -> dict[str, Any]:
        item = {"type": "object", "required": ["label", "confidence"],
                "properties": {"label": {"type": "string"}, "confidence": {"type": "number"}}}
        confidences: dict[str, Any] = {"type": "array", "items": item}
        if self.top_k is not None:
            confidences["maxItems"] = self.top_k
        return {"type": "object", "required": ["label", "confidences"],
                "properties": {"label": {"type": "string"}, "confidences": confidences}}

    def encode(self, value: Any) -> dict[str, Any]:
        if isinstance(value, str):
            return {"label": value, "confidences": []}
        if not isinstance(value, dict) or not value:
            raise self._wrong_type("a str, a non-empty {class: probability} dict or "
                                   "{'label': ..., 'confidences': [...]}", value)
        pairs: list[tuple[Any, Any]]
        if isinstance(value.get("label"), str) and set(value) <= {"label", "confidences"}:
            pairs = [(c.get("label"), c.get("confidence")) if isinstance(c, dict) else (None, None)
                     for c in value.get("confidences") or []]
            top = value["label"]
        else:
            pairs, top = list(value.items()), None
        if any(not isinstance(k, str) or not _is_number(p) or not math.isfinite(p) for k, p in pairs):
            raise self._wrong_type("str class names with numeric confidences", value)
        ranked = sorted(((k, float(p)) for k, p in pairs), key=lambda kp: kp[1], reverse=True)
        if self.top_k is not None:
            ranked = ranked[: self.top_k]
        return {"label": top if top is not None else ranked[0][0],
                "confidences": [{"label": k, "confidence": p} for k, p in ranked]}

    def decode(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict) or not isinstance(value.get("label"), str):
            raise self._invalid("must be an object with a 'label' string")
        return value
