"""Multi-step models as events carry them, and what each step may return.

The rules for filling a step from earlier ones live in the SDK (``feather.runtime.fill_inputs``,
``next_step``), which the worker, the gateway, the executor and the preview server all call.
"""
from __future__ import annotations

from typing import Any


def chain_link(step: dict[str, Any]) -> dict[str, Any]:
    """What a RunRequested's chain says of one step: its name and its inputs' names and kinds,
    all that ``fill_inputs`` reads when the executor fills the step from earlier ones."""
    inputs = step.get("inputs", [])
    return {"step": step["name"], "inputs": [i["name"] for i in inputs],
            "kinds": {i["name"]: i.get("kind") for i in inputs}}


def link_step(link: dict[str, Any]) -> dict[str, Any]:
    """A chain link as the manifest step ``fill_inputs`` reads (links written before they
    named their kinds merge no input)."""
    kinds = link.get("kinds") or {}
    return {"inputs": [{"name": n, "kind": kinds.get(n)} for n in link["inputs"]]}


def declared_outputs(manifest: dict[str, Any]) -> dict[str, list[str]]:
    """The output names each step of ``manifest`` declares."""
    return {s["name"]: [o["name"] for o in s.get("outputs", [])] for s in manifest.get("steps", [])}


def declared_batches(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """How each batch step of ``manifest`` takes its runs (``max_size``, ``max_wait_ms``)."""
    return {s["name"]: s["batch"] for s in manifest.get("steps", []) if isinstance(s.get("batch"), dict)}


def keep_declared(outputs: dict[str, Any], declared: dict[str, list[str]] | None, step: str) -> dict[str, Any]:
    """Only the outputs ``step`` declares: a model's code may return any names, and an output
    the manifest does not describe is one no client knows how to show or save."""
    if declared is None:  # a runtime built before its record listed outputs
        return outputs
    names = declared.get(step, [])
    return {k: v for k, v in outputs.items() if k in names}
