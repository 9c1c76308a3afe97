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


def declared_outputs(manifest: dict[str, Any]) -> dict[str, list[str]]:
    """The output names each step of ``manifest`` declares."""
    return {s["name"]: [o["name"] for o in s.get("outputs", [])] for s in manifest.get("steps", [])}


def keep_declared(outputs: dict[str, Any], declared: dict[str, list[str]] | None, step: str) -> dict[str, Any]:
    """Only the outputs ``step`` declares: a model's code may return any names, and an output
    the manifest does not describe is one no client knows how to show or save."""
    if declared is None:  # a runtime built before its record listed outputs
        return outputs
    names = declared.get(step, [])
    return {k: v for k, v in outputs.items() if k in names}
