"""Boxes on an image: `Box`, `Annotated` (an image output with boxes and a caption) and the
shared conversion of regions to `{"box": [x0, y0, x1, y1], "label": str}` objects."""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._components import Component, is_number

REGIONS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "object", "required": ["box"],
              "properties": {"box": {"type": "array", "items": {"type": "number"},
                                     "minItems": 4, "maxItems": 4},
                             "label": {"type": "string"}, "score": {"type": "number"}}}}


@dataclass(frozen=True)
class Box:
    """A rectangle in pixels, left/top inclusive, with an optional label and score."""
    x0: float
    y0: float
    x1: float
    y1: float
    label: str = ""
    score: float | None = None

    def __post_init__(self) -> None:
        coords = (self.x0, self.y0, self.x1, self.y1)
        if not all(is_number(c) and math.isfinite(c) for c in coords):
            raise TypeError(f"box coordinates must be finite numbers, got {list(coords)!r:.80}")
        if self.x1 < self.x0 or self.y1 < self.y0:
            raise TypeError(f"a box needs x0 <= x1 and y0 <= y1, got {list(coords)}")
        if not isinstance(self.label, str):
            raise TypeError(f"a box label must be a str, got {self.label!r:.40}")
        if self.score is not None and (not is_number(self.score) or not math.isfinite(self.score)):
            raise TypeError(f"a box score must be a finite number, got {self.score!r:.40}")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"box": [_plain(c) for c in (self.x0, self.y0, self.x1, self.y1)],
                               "label": self.label}
        if self.score is not None:
            out["score"] = float(self.score)
        return out


@dataclass(frozen=True)
class Annotated:
    """An image output with boxes drawn over it (by the viewer) and an optional caption."""
    image: Any
    boxes: Sequence[Box | Sequence[float] | dict[str, Any]] = field(default_factory=list)
    caption: str | None = None


def to_box(item: Any) -> Box:
    """A Box from a Box, a `{"box": [...], "label": ...}` object or a 4-number sequence."""
    if isinstance(item, Box):
        return item
    if isinstance(item, dict) and isinstance(item.get("box"), (list, tuple)) \
            and len(item["box"]) == 4:
        x0, y0, x1, y1 = item["box"]
        return Box(x0, y0, x1, y1, label=item.get("label", ""), score=item.get("score"))
    if isinstance(item, (list, tuple)) and len(item) == 4:
        return Box(*item)
    raise TypeError(f"a region must be a ft.Box, [x0, y0, x1, y1] or {{'box': [...], "
                    f"'label': ...}}, got {item!r:.60}")


def regions_json(items: Any, owner: Component) -> list[dict[str, Any]]:
    """Regions a step returned -> wire objects; TypeError naming the output otherwise."""
    if isinstance(items, (str, bytes, dict)) or not isinstance(items, Sequence):
        raise TypeError(f"output {owner.name!r} ({owner.kind}): boxes must be a list, "
                        f"got {type(items).__name__}")
    out = []
    for index, item in enumerate(items):
        try:
            out.append(to_box(item).to_json())
        except TypeError as exc:
            raise TypeError(f"output {owner.name!r} ({owner.kind}): region {index}: {exc}") from None
    return out


def _plain(number: Any) -> int | float:
    # Whole pixel coordinates stay ints; numpy scalars become Python numbers.
    return int(number) if isinstance(number, numbers.Integral) else float(number)
