"""Inputs picked from fixed options: Checkbox, Choice and MultiChoice."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._components import Component, drop_unset, is_count, is_number, json_type

Option = str | int | float


class Checkbox(Component):
    kind = "checkbox"
    can_output = False

    def __init__(self, name: str, default: bool = False, *, label: str | None = None,
                 description: str | None = None) -> None:
        super().__init__(name, label=label, description=description, default=default)
        if not isinstance(default, bool):
            self._fail(f"Checkbox {name!r}: default must be True or False, got {default!r}")

    def json_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}

    def _check(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self._invalid(f"must be true or false, got {json_type(value)}")
        return value


class _Options(Component):
    """Shared checks for components whose values come from a list of options."""
    options: list[Option]

    def _options(self, options: Sequence[Option]) -> list[Option]:
        kind = type(self).__name__
        if isinstance(options, (str, bytes)) or not isinstance(options, Sequence) or not options:
            self._fail(f"{kind} {self.name!r}: options must be a non-empty list, got {options!r}")
        for option in options:
            if not isinstance(option, str) and not is_number(option):
                self._fail(f"{kind} {self.name!r}: options must be strings or numbers, "
                           f"got {option!r}")
        if len(set(options)) != len(options):
            self._fail(f"{kind} {self.name!r}: options contain duplicates")
        return list(options)

    def _option(self, value: Any) -> Option:
        # `in` would accept True for 1 and 1.0 for 1; require the same type family too.
        for option in self.options:
            if value == option and isinstance(value, str) == isinstance(option, str) \
                    and not isinstance(value, bool):
                return option
        shown = ", ".join(repr(o) for o in self.options[:10])
        more = ", ..." if len(self.options) > 10 else ""
        raise self._invalid(f"must be one of {shown}{more}; got {value!r}")


class Choice(_Options):
    """One value out of `options` (a select box or radio buttons)."""
    kind = "choice"
    can_output = False

    def __init__(self, name: str, options: Sequence[Option] = (), default: Option | None = None,
                 *, label: str | None = None, description: str | None = None) -> None:
        super().__init__(name, label=label, description=description, default=default)
        self.options = self._options(options)
        self._check_default()

    @property
    def props(self) -> dict[str, Any]:
        return {"options": list(self.options)}

    def json_schema(self) -> dict[str, Any]:
        return {"enum": list(self.options)}

    def _check(self, value: Any) -> Option:
        return self._option(value)


class MultiChoice(_Options):
    """Any number of values out of `options`, within `min_selected`..`max_selected`."""
    kind = "multi_choice"
    can_output = False

    def __init__(self, name: str, options: Sequence[Option] = (),
                 default: Sequence[Option] = (), *, min_selected: int | None = None,
                 max_selected: int | None = None, label: str | None = None,
                 description: str | None = None) -> None:
        super().__init__(name, label=label, description=description, default=list(default))
        self.options = self._options(options)
        for key, count in (("min_selected", min_selected), ("max_selected", max_selected)):
            if count is not None and not is_count(count):
                self._fail(f"MultiChoice {name!r}: {key} must be a non-negative int, got {count!r}")
        if min_selected is not None and max_selected is not None and min_selected > max_selected:
            self._fail(f"MultiChoice {name!r}: min_selected {min_selected} is above "
                       f"max_selected {max_selected}")
        self.min_selected, self.max_selected = min_selected, max_selected
        if min_selected and not default:
            self.default = None  # an empty default could never be valid: make the input required
        self._check_default()

    @property
    def props(self) -> dict[str, Any]:
        return {"options": list(self.options),
                **drop_unset(min_selected=self.min_selected, max_selected=self.max_selected)}

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "array", "items": {"enum": list(self.options)},
                                  "uniqueItems": True}
        if self.min_selected is not None:
            schema["minItems"] = self.min_selected
        if self.max_selected is not None:
            schema["maxItems"] = self.max_selected
        return schema

    def _check(self, value: Any) -> list[Option]:
        if not isinstance(value, list):
            raise self._invalid(f"must be a list of options, got {json_type(value)}")
        chosen = [self._option(v) for v in value]
        if len(set(chosen)) != len(chosen):
            raise self._invalid("lists an option twice")
        if self.min_selected is not None and len(chosen) < self.min_selected:
            raise self._invalid(f"needs at least {self.min_selected} selected, got {len(chosen)}")
        if self.max_selected is not None and len(chosen) > self.max_selected:
            raise self._invalid(f"allows at most {self.max_selected} selected, got {len(chosen)}")
        return chosen
