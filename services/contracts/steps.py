"""How a step's inputs are filled from earlier steps (see docs/wire.md, multi-step models)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def carry(input_names: Iterable[str], carried: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Fill inputs by name: earlier values, then what the caller sends, merged for objects.

    An interactive output (say, regions to pick from) merged with the caller's choice
    (``{"selected": [...]}``) is what the next step's component reads. Names the caller sends
    that the step does not have are kept, so validation can name them.
    """
    filled: dict[str, Any] = {}
    for name in input_names:
        if name in given:
            before, chosen = carried.get(name), given[name]
            filled[name] = {**before, **chosen} if isinstance(before, dict) and isinstance(chosen, dict) else chosen
        elif name in carried:
            filled[name] = carried[name]
    for name, value in given.items():
        filled.setdefault(name, value)
    return filled
