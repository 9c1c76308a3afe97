"""Interactive components: a step's output shown to the user, whose choice feeds the next step.

The value the next step decodes is the output merged with the choice (docs/wire.md):
`{**output, **{"selected": [...]}}` for PickList and ImageRegions, the edited string for
EditableText. `validate` also accepts the choice alone, which is what a caller sends with
`previous_run`.
"""
from __future__ import annotations

from typing import Any

from . import _files as files
from ._basic import Text
from ._components import Component, is_count, json_type, plain_json
from ._media import Image
from ._regions import REGIONS_SCHEMA, Annotated, regions_json, to_box


class _Selectable(Component):
    """Shared by PickList and ImageRegions: a choice is `{"selected": [index, ...]}`."""
    interactive = True
    items_key = ""

    def _limits(self, multiple: bool, min_selected: int | None, max_selected: int | None) -> None:
        for key, count in (("min_selected", min_selected), ("max_selected", max_selected)):
            if count is not None and (not is_count(count) or not multiple):
                self._fail(f"{type(self).__name__} {self.name!r}: {key} must be a non-negative "
                           f"int and needs multiple=True, got {count!r}")
        if min_selected is not None and max_selected is not None and min_selected > max_selected:
            self._fail(f"{type(self).__name__} {self.name!r}: min_selected {min_selected} is "
                       f"above max_selected {max_selected}")
        self.multiple = bool(multiple)
        # One pick for a single choice; at least one unless told otherwise for several.
        self.min_selected = 1 if not multiple else (1 if min_selected is None else min_selected)
        self.max_selected = 1 if not multiple else max_selected

    @property
    def props(self) -> dict[str, Any]:
        props: dict[str, Any] = {"multiple": self.multiple}
        if self.multiple:
            props["min_selected"] = self.min_selected
            if self.max_selected is not None:
                props["max_selected"] = self.max_selected
        return props

    def _selected_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "array", "items": {"type": "integer", "minimum": 0},
                                  "uniqueItems": True, "minItems": self.min_selected}
        if self.max_selected is not None:
            schema["maxItems"] = self.max_selected
        return schema

    def _selected(self, value: Any, available: int | None) -> list[int]:
        if not isinstance(value, dict):
            raise self._invalid(f"must be an object, got {json_type(value)}")
        selected = value.get("selected")
        if selected is None:
            raise self._invalid('needs a choice: send {"selected": [index, ...]}')
        if not isinstance(selected, list) or not all(is_count(i) for i in selected):
            raise self._invalid(f"'selected' must be a list of indexes, got {selected!r:.60}")
        if len(set(selected)) != len(selected):
            raise self._invalid("'selected' lists an index twice")
        if len(selected) < self.min_selected or (self.max_selected is not None
                                                 and len(selected) > self.max_selected):
            wanted = ("exactly one" if not self.multiple else f"at least {self.min_selected}"
                      + (f" and at most {self.max_selected}" if self.max_selected else ""))
            raise self._invalid(f"needs {wanted} selected, got {len(selected)}")
        if available is not None and any(i >= available for i in selected):
            raise self._invalid(f"'selected' has an index out of range: there are {available} "
                                f"{self.items_key}")
        return selected

    def validate(self, value: Any) -> None:
        wire = self.to_wire(value, upload=files.pending_upload)
        if not isinstance(wire, dict):
            raise self._invalid(f"must be an object, got {json_type(wire)}")
        if self.items_key not in wire:
            self._selected(wire, None)  # the choice alone; the rest comes from the previous run
        else:
            self._check(wire)


class PickList(_Selectable):
    """The step returns a list of strings; the next step receives the chosen ones."""
    kind = "pick_list"
    items_key = "options"

    def __init__(self, name: str, *, multiple: bool = False, min_selected: int | None = None,
                 max_selected: int | None = None, label: str | None = None,
                 description: str | None = None) -> None:
        super().__init__(name, label=label, description=description)
        self._limits(multiple, min_selected, max_selected)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "object", "required": ["options", "selected"],
                "properties": {"options": _STRINGS, "multiple": {"type": "boolean"},
                               "selected": self._selected_schema()}}

    def output_schema(self) -> dict[str, Any]:
        return {"type": "object", "required": ["options", "multiple"],
                "properties": {"options": _STRINGS, "multiple": {"type": "boolean"}}}

    def encode(self, value: Any, *, output_dir: str | None = None) -> dict[str, Any]:
        options = value.get("options") if isinstance(value, dict) else value
        if not isinstance(options, (list, tuple)) or not all(isinstance(o, str) for o in options):
            raise self._wrong_type("a list of option strings", value)
        return {"options": list(options), "multiple": self.multiple}

    def _check(self, value: Any) -> Any:
        options = value.get("options") if isinstance(value, dict) else None
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            raise self._invalid("must have 'options', a list of strings")
        self._selected(value, len(options))
        return value

    def decode(self, value: Any) -> list[str]:
        self._check(value)
        return [value["options"][i] for i in value["selected"]]


class ImageRegions(_Selectable):
    """The step returns an image with boxes (`ft.Annotated(image, boxes=[...])`, a
    `{"image", "regions"}` dict or an `(image, regions)` pair); the next step receives
    `{"image": <decoded like Image(format=...)>, "regions": [chosen {"box", "label"}]}`."""
    kind = "image_regions"
    items_key = "regions"

    def __init__(self, name: str, *, multiple: bool = True, min_selected: int | None = None,
                 max_selected: int | None = None, format: str = "pil", mode: str | None = None,
                 file_format: str = "png", label: str | None = None,
                 description: str | None = None) -> None:
        super().__init__(name, label=label, description=description)
        self._limits(multiple, min_selected, max_selected)
        self._image = Image(name, format=format, mode=mode, file_format=file_format)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "object", "required": ["image", "regions", "selected"],
                "properties": {"image": files.file_schema(), "regions": REGIONS_SCHEMA,
                               "selected": self._selected_schema()}}

    def output_schema(self) -> dict[str, Any]:
        return {"type": "object", "required": ["image", "regions"],
                "properties": {"image": files.file_schema(output=True), "regions": REGIONS_SCHEMA}}

    def encode(self, value: Any, *, output_dir: str | None = None) -> dict[str, Any]:
        if isinstance(value, Annotated):
            image, regions = value.image, value.boxes
        elif isinstance(value, dict) and set(value) >= {"image", "regions"}:
            image, regions = value["image"], value["regions"]
        elif isinstance(value, tuple) and len(value) == 2:
            image, regions = value
        else:
            raise self._wrong_type("ft.Annotated(image, boxes=[...]), {'image', 'regions'} "
                                   "or (image, regions)", value)
        encoded = self._image.encode(image, output_dir=output_dir)
        return {"image": encoded, "regions": regions_json(regions, self)}

    def to_wire(self, value: Any, *, upload: files.Upload | None = None) -> Any:
        if isinstance(value, dict) and "image" in value:  # the image may still be a Python object
            return {**plain_json({k: v for k, v in value.items() if k != "image"}, self),
                    "image": self._image.to_wire(value["image"], upload=upload)}
        return plain_json(value, self)

    def _check(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict) or not isinstance(value.get("regions"), list):
            raise self._invalid("must have 'image' and 'regions', a list of boxes")
        self._image._check(value.get("image"))
        for index, region in enumerate(value["regions"]):
            try:
                to_box(region)
            except TypeError as exc:
                raise self._invalid(f"region {index}: {exc}") from None
        self._selected(value, len(value["regions"]))
        return value

    def decode(self, value: Any) -> dict[str, Any]:
        self._check(value)
        chosen = [to_box(value["regions"][i]).to_json() for i in value["selected"]]
        return {"image": self._image.decode(value["image"]), "regions": chosen}


class EditableText(Text):
    """Text shown for editing; the next step receives the edited string (or the original)."""
    kind = "editable_text"
    interactive = True


_STRINGS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
