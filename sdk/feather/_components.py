"""The base of every input and output component: how a value is described, checked and converted.

A component keeps static `props` (UI hints and limits) apart from the value. Each one offers:

- `json_schema()` / `output_schema()`: the JSON Schema of its wire value as an input / output
  (the gateway validates requests with nothing else);
- `decode(wire)` and `encode(python, output_dir=...)`: what the runtime uses around a step;
- `to_wire(python, upload=...)` and `validate(value)`: what a client uses before sending.

The concrete kinds live in `_basic`, `_choices`, `_media`, `_table` and `_interactive`.
"""
from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from typing import Any, ClassVar, NoReturn

from ._errors import DefinitionError, InvalidInput, caller_location
from ._files import Upload, pending_upload

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Component:
    kind: ClassVar[str] = ""
    can_input: ClassVar[bool] = True
    can_output: ClassVar[bool] = True
    interactive: ClassVar[bool] = False  # shown to the user between steps; the choice feeds the next
    registry: ClassVar[dict[str, type[Component]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Component.registry[cls.kind] = cls

    def __init__(self, name: str, *, label: str | None = None,
                 description: str | None = None, default: Any = None) -> None:
        self._file, self._line = caller_location()
        # Names become keyword arguments of the step function, so they must be identifiers.
        if not isinstance(name, str) or not _NAME.fullmatch(name):
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
        """Schema of the value as an input (or the only schema when both roles agree)."""
        return {}

    def output_schema(self) -> dict[str, Any]:
        return self.json_schema()

    def encode(self, value: Any, *, output_dir: str | None = None) -> Any:
        """Python value returned by a step -> JSON value; TypeError names the output."""
        return value

    def decode(self, value: Any) -> Any:
        """JSON value from a request -> the Python value the step receives."""
        return self._check(value)

    def _check(self, value: Any) -> Any:
        """Validate a wire value without reading files or importing anything heavy."""
        return value

    def to_wire(self, value: Any, *, upload: Upload | None = None) -> Any:
        """Python value a caller passes -> wire value (files inline, or through `upload`)."""
        return plain_json(value, self)

    def validate(self, value: Any) -> None:
        """Raise InvalidInput naming the field when `value` (Python or wire) would be refused."""
        self._check(self.to_wire(value, upload=pending_upload))

    def default_wire(self) -> Any:
        return None if self.default is None else self.to_wire(self.default)

    def _check_default(self) -> None:
        if self.default is not None:
            try:
                self.validate(self.default)
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


def component_from_manifest(entry: Mapping[str, Any]) -> Component:
    """Rebuild a component from its manifest entry, so a client can validate without app.py."""
    cls = Component.registry.get(str(entry.get("kind")))
    if cls is None:
        raise ValueError(f"unknown component kind {entry.get('kind')!r}; upgrade feather")
    kwargs = dict(entry.get("props") or {})
    if entry.get("default") is not None:
        kwargs["default"] = entry["default"]
    return cls(entry["name"], label=entry.get("label"), description=entry.get("description"),
               **kwargs)


def prepare_inputs(step: Mapping[str, Any], inputs: Mapping[str, Any], *,
                   upload: Upload | None = None) -> dict[str, Any]:
    """Validate a step's inputs against its manifest entry and turn them into wire values.

    Unknown kinds (a manifest from a newer SDK) pass through for the server to judge.
    """
    specs = {spec["name"]: spec for spec in step.get("inputs", [])}
    wire: dict[str, Any] = {}
    for name, value in inputs.items():
        spec = specs.get(name)
        if spec is None:
            known = ", ".join(specs) or "none"
            raise InvalidInput(f"unknown input {name!r} (inputs: {known})", field=name)
        if spec.get("kind") not in Component.registry:
            wire[name] = value
            continue
        component = component_from_manifest(spec)
        wire[name] = component.to_wire(value, upload=upload)
        component.validate(wire[name])
    return wire


def _label_from(name: str) -> str:
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def drop_unset(**values: Any) -> dict[str, Any]:
    # Only settings that differ from the defaults go into props, so manifests stay small.
    return {k: v for k, v in values.items() if v is not None and v is not False}


def json_type(value: Any) -> str:
    names = {bool: "a boolean", str: "a string", int: "a number", float: "a number",
             list: "an array", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def is_number(value: Any) -> bool:
    # numbers.Real also admits numpy scalars; bool is an int subclass but not a number here.
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def plain_json(value: Any, owner: Component) -> Any:
    """Strict JSON from common Python values (tuples, numpy scalars and arrays included)."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        if not math.isfinite(value):
            raise owner._invalid(f"must be a finite number, got {value}")
        return float(value)
    if isinstance(value, (list, tuple)):
        return [plain_json(v, owner) for v in value]
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return {k: plain_json(v, owner) for k, v in value.items()}
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy, without importing it
        return plain_json(value.tolist(), owner)
    raise owner._invalid(f"must be a JSON value, got {type(value).__name__}")
