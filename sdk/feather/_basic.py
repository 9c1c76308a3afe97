"""Plain-value components: Text, Markdown, Number, Slider, JSON and Label."""
from __future__ import annotations

import json
import math
import numbers
from typing import Any

from ._components import Component, drop_unset, is_count, is_number, json_type


class Text(Component):
    """A string; `multiline=True` asks for the long-text form."""
    kind = "text"

    def __init__(self, name: str, *, label: str | None = None, description: str | None = None,
                 default: str | None = None, min_length: int | None = None,
                 max_length: int | None = None, placeholder: str | None = None,
                 multiline: bool = False) -> None:
        super().__init__(name, label=label, description=description, default=default)
        for key, limit in (("min_length", min_length), ("max_length", max_length)):
            if limit is not None and not is_count(limit):
                self._fail(f"{type(self).__name__} {name!r}: {key} must be a non-negative int, "
                           f"got {limit!r}")
        if min_length is not None and max_length is not None and min_length > max_length:
            self._fail(f"{type(self).__name__} {name!r}: min_length {min_length} is above "
                       f"max_length {max_length}")
        self.min_length, self.max_length = min_length, max_length
        self.placeholder, self.multiline = placeholder, bool(multiline)
        self._check_default()

    @property
    def props(self) -> dict[str, Any]:
        return drop_unset(min_length=self.min_length, max_length=self.max_length,
                          placeholder=self.placeholder, multiline=self.multiline)

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.min_length is not None:
            schema["minLength"] = self.min_length
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        return schema

    def encode(self, value: Any, *, output_dir: str | None = None) -> str:
        if not isinstance(value, str):
            raise self._wrong_type("a str", value)
        return value

    def _check(self, value: Any) -> str:
        if not isinstance(value, str):
            raise self._invalid(f"must be a string, got {json_type(value)}")
        if self.min_length is not None and len(value) < self.min_length:
            raise self._invalid(f"must have at least {self.min_length} characters, got {len(value)}")
        if self.max_length is not None and len(value) > self.max_length:
            raise self._invalid(f"must have at most {self.max_length} characters, got {len(value)}")
        return value


class Markdown(Text):
    """Text rendered as Markdown (output only)."""
    kind = "markdown"
    can_input = False


class Number(Component):
    kind = "number"

    def __init__(self, name: str, *, label: str | None = None, description: str | None = None,
                 default: float | None = None, minimum: float | None = None,
                 maximum: float | None = None, step: float | None = None,
                 integer: bool = False) -> None:
        super().__init__(name, label=label, description=description, default=default)
        kind = type(self).__name__
        for key, limit in (("minimum", minimum), ("maximum", maximum), ("step", step)):
            if limit is not None and (not is_number(limit) or not math.isfinite(limit)):
                self._fail(f"{kind} {name!r}: {key} must be a number, got {limit!r}")
        if minimum is not None and maximum is not None and minimum > maximum:
            self._fail(f"{kind} {name!r}: minimum {minimum} is above maximum {maximum}")
        if step is not None and step <= 0:
            self._fail(f"{kind} {name!r}: step must be above 0, got {step}")
        self.minimum, self.maximum, self.step, self.integer = minimum, maximum, step, bool(integer)
        self._check_default()

    @property
    def props(self) -> dict[str, Any]:
        return drop_unset(minimum=self.minimum, maximum=self.maximum,
                          step=self.step, integer=self.integer)

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer" if self.integer else "number"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema

    def encode(self, value: Any, *, output_dir: str | None = None) -> float | int:
        if not is_number(value) or not math.isfinite(value):
            raise self._wrong_type("a finite number", value)
        if self.integer:
            if value != int(value):
                raise self._wrong_type("an integer", value)
            return int(value)
        return int(value) if isinstance(value, numbers.Integral) else float(value)

    def _check(self, value: Any) -> float | int:
        if not is_number(value) or not math.isfinite(value):
            raise self._invalid(f"must be a number, got {json_type(value)}")
        if self.integer and value != int(value):
            raise self._invalid(f"must be an integer, got {value}")
        if self.minimum is not None and value < self.minimum:
            raise self._invalid(f"must be at least {self.minimum}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise self._invalid(f"must be at most {self.maximum}, got {value}")
        return int(value) if self.integer else value


class Slider(Number):
    """A bounded number picked on a scale; whole numbers when bounds and step are ints."""
    kind = "slider"
    can_output = False

    def __init__(self, name: str, minimum: float = 0, maximum: float = 100, step: float = 1,
                 default: float | None = None, *, label: str | None = None,
                 description: str | None = None) -> None:
        whole = all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                    for v in (minimum, maximum, step))
        # A slider always shows a value, so it starts at the minimum unless told otherwise.
        start = minimum if default is None and is_number(minimum) else default
        super().__init__(name, label=label, description=description, default=start,
                         minimum=minimum, maximum=maximum, step=step, integer=whole)

    @property
    def props(self) -> dict[str, Any]:
        return {"minimum": self.minimum, "maximum": self.maximum, "step": self.step}

    def _check(self, value: Any) -> float | int:
        number = super()._check(value)
        assert self.minimum is not None and self.step is not None
        ticks = (number - self.minimum) / self.step
        if abs(ticks - round(ticks)) > 1e-9 * max(1.0, abs(ticks)):
            raise self._invalid(f"must be {self.minimum} plus a multiple of {self.step}, got {value}")
        return number


class JSON(Component):
    """Any JSON value (output only)."""
    kind = "json"
    can_input = False

    def encode(self, value: Any, *, output_dir: str | None = None) -> Any:
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
        if top_k is not None and (not is_count(top_k) or top_k < 1):
            self._fail(f"Label {name!r}: top_k must be a positive int, got {top_k!r}")
        self.top_k = top_k

    @property
    def props(self) -> dict[str, Any]:
        return drop_unset(top_k=self.top_k)

    def json_schema(self) -> dict[str, Any]:
        item = {"type": "object", "required": ["label", "confidence"],
                "properties": {"label": {"type": "string"}, "confidence": {"type": "number"}}}
        confidences: dict[str, Any] = {"type": "array", "items": item}
        if self.top_k is not None:
            confidences["maxItems"] = self.top_k
        return {"type": "object", "required": ["label", "confidences"],
                "properties": {"label": {"type": "string"}, "confidences": confidences}}

    def encode(self, value: Any, *, output_dir: str | None = None) -> dict[str, Any]:
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
        if any(not isinstance(k, str) or not is_number(p) or not math.isfinite(p) for k, p in pairs):
            raise self._wrong_type("str class names with numeric confidences", value)
        # str()/float() turn numpy strings and scalars (zip over arrays) into plain JSON.
        ranked = sorted(((str(k), float(p)) for k, p in pairs), key=lambda kp: kp[1], reverse=True)
        if self.top_k is not None:
            ranked = ranked[: self.top_k]
        return {"label": str(top) if top is not None else ranked[0][0],
                "confidences": [{"label": k, "confidence": p} for k, p in ranked]}

    def _check(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict) or not isinstance(value.get("label"), str):
            raise self._invalid("must be an object with a 'label' string")
        return value
