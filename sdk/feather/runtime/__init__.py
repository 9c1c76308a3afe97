"""Run a model in-process: load app.py once, then call its steps with JSON inputs.

Standard library only: this runs inside each model's own virtualenv.
"""
from __future__ import annotations

import asyncio
import inspect
import os
import time
import traceback
from typing import Any

from .._components import Component
from .._errors import FeatherError, InvalidInput
from .._manifest import load_model
from .._model import CONTEXT, Model, Step

__all__ = ["LoadedModel", "StepError", "load"]


class StepError(FeatherError):
    """The step function (or the value it returned) failed; carries the traceback text."""

    def __init__(self, message: str, traceback: str = "") -> None:
        super().__init__(message)
        self.traceback = traceback


class LoadedModel:
    def __init__(self, model: Model, context: Any, load_ms: float) -> None:
        self.model, self.context, self.load_ms = model, context, load_ms
        self._loop: asyncio.AbstractEventLoop | None = None  # created only for async steps

    def run(self, step_name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """Decode `inputs`, call the step and return its outputs encoded by name."""
        step = self.model.get_step(step_name)
        if step is None:
            known = ", ".join(s.name for s in self.model.steps)
            raise InvalidInput(f"unknown step {step_name!r} (this model has: {known})", field="step")
        kwargs = _decode_inputs(step, inputs)
        if step.wants_context:
            kwargs[CONTEXT] = self.context
        try:
            result = step.fn(**kwargs)
            if inspect.isawaitable(result):
                result = self._event_loop().run_until_complete(result)
        except Exception as exc:
            tb = exc.__traceback__.tb_next if exc.__traceback__ else None  # drop this frame
            raise StepError(f"{type(exc).__name__}: {exc}",
                            "".join(traceback.format_exception(type(exc), exc, tb))) from exc
        try:
            return _encode_outputs(step, result)
        except (TypeError, ValueError) as exc:
            raise StepError(f"{type(exc).__name__}: {exc}", "") from exc

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop


def load(app_path: str | os.PathLike[str]) -> LoadedModel:
    """Import app.py (its folder stays on sys.path) and run `load` once."""
    started = time.perf_counter()
    model = load_model(app_path, keep_sys_path=True)
    context = model.load() if model.load is not None else None
    return LoadedModel(model, context, (time.perf_counter() - started) * 1000)


def _decode_inputs(step: Step, inputs: Any) -> dict[str, Any]:
    if not isinstance(inputs, dict):
        raise InvalidInput("inputs must be a JSON object", field="inputs")
    names = {c.name for c in step.inputs}
    for key in inputs:
        if key not in names:
            raise InvalidInput(f"unknown input {key!r} for step {step.name!r}", field=key)
    kwargs: dict[str, Any] = {}
    for c in step.inputs:
        value = inputs.get(c.name)
        if value is None:  # absent and null both mean "use the default"
            if c.required:
                raise InvalidInput(f"input {c.name!r} is required", field=c.name)
            value = c.default
        kwargs[c.name] = c.decode(value)
    return kwargs


def _encode_outputs(step: Step, result: Any) -> dict[str, Any]:
    outs: list[Component] = step.outputs
    if len(outs) == 1:
        return {outs[0].name: outs[0].encode(result)}
    names = [c.name for c in outs]
    if isinstance(result, dict) and set(result) == set(names):
        return {c.name: c.encode(result[c.name]) for c in outs}
    if isinstance(result, (tuple, list)) and len(result) == len(outs):
        return {c.name: c.encode(v) for c, v in zip(outs, result, strict=True)}
    raise TypeError(f"step {step.name!r} must return a tuple of {len(outs)} values "
                    f"({', '.join(names)}) or a dict with those keys, got {type(result).__name__}"
                    + (f" with keys {sorted(result)}" if isinstance(result, dict) else ""))
