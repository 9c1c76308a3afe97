"""Run a model in-process: load app.py once, then call its steps with JSON inputs.

Standard library only: this runs inside each model's own virtualenv.
"""
from __future__ import annotations

import asyncio
import inspect
import os
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .. import _files
from .._components import Component
from .._errors import FeatherError, InvalidInput
from .._manifest import load_model
from .._model import CONTEXT, Model, Step, fill_inputs
from .._progress import Reporter, reporting

__all__ = ["LoadedModel", "StepError", "load"]

# called after each yield of a generator step with a function that encodes its outputs so far
PartialOutputs = Callable[[Callable[[], dict[str, Any]]], None]


class StepError(FeatherError):
    """The step function (or the value it returned) failed; carries the traceback text."""

    def __init__(self, message: str, traceback: str = "", step: str | None = None) -> None:
        super().__init__(message)
        self.traceback = traceback
        self.step = step


class LoadedModel:
    def __init__(self, model: Model, context: Any, load_ms: float) -> None:
        self.model, self.context, self.load_ms = model, context, load_ms
        self._loop: asyncio.AbstractEventLoop | None = None  # created only for async steps

    def run(self, step_name: str, inputs: dict[str, Any], *, output_dir: str | None = None,
            on_progress: Reporter | None = None, on_output: PartialOutputs | None = None) -> dict[str, Any]:
        """Decode `inputs`, call the step and return its outputs encoded by name.

        Files the step returns are written into `output_dir` when given, else inlined as
        data URLs. `on_progress(fraction, message)` receives the step's `feather.progress` calls.

        A step may be a generator: each value it yields is its outputs so far, except that
        text and markdown outputs add up what is yielded (tokens). `on_output(encode)` is called
        after each yield; `encode()` gives those outputs encoded (files inline), for a caller
        that sends only some of them to pay for encoding only those. The outputs returned are
        the last ones.
        """
        step = self._step(step_name)
        try:
            kwargs = _decode_inputs(step, inputs)
            if step.batch is not None:  # a batch of one
                (answer,) = self._batch(step, [kwargs], output_dir, on_progress)
                if isinstance(answer, StepError):
                    raise answer
                return answer
            if step.wants_context:
                kwargs[CONTEXT] = self.context
            with reporting(on_progress):
                result = self._call(step, kwargs, on_output)
            return _encoded(step, result, output_dir)
        finally:
            _files.clear_scratch()  # inline inputs materialized as paths live for one call

    def run_batch(self, step_name: str, batch: list[Any], *, output_dir: str | None = None,
                  on_progress: Reporter | None = None) -> list[dict[str, Any]]:
        """Run a batch step once for several runs' inputs; one answer per run, in order:
        `{"ok": true, "outputs"}` or `{"ok": false, "error", "traceback"}`.

        Inputs that do not decode fail their own run, before the call. When the call fails, the
        batch is split in halves and each is called again, so one input the step cannot handle
        fails only its run (at the cost of about two calls per halving).
        """
        step = self._step(step_name)
        if step.batch is None:
            raise InvalidInput(f"step {step.name!r} does not take batches", field="step")
        try:
            answers: list[dict[str, Any] | None] = [None] * len(batch)
            valid: list[tuple[int, dict[str, Any]]] = []
            for index, inputs in enumerate(batch):
                try:
                    valid.append((index, _decode_inputs(step, inputs)))
                except InvalidInput as exc:
                    answers[index] = {"ok": False, "error": f"InvalidInput: {exc}", "traceback": ""}
            results = self._batch(step, [kwargs for _, kwargs in valid], output_dir, on_progress) if valid else []
            for (index, _), result in zip(valid, results, strict=True):
                answers[index] = {"ok": False, "error": result.message, "traceback": result.traceback} \
                    if isinstance(result, StepError) else {"ok": True, "outputs": result}
            return [a for a in answers if a is not None]
        finally:
            _files.clear_scratch()

    def _batch(self, step: Step, runs: list[dict[str, Any]], output_dir: str | None,
               on_progress: Reporter | None) -> list[dict[str, Any] | StepError]:
        """Each run's encoded outputs, or the error that failed it."""
        kwargs: dict[str, Any] = {c.name: [run[c.name] for run in runs] for c in step.inputs}
        if step.wants_context:
            kwargs[CONTEXT] = self.context
        try:
            with reporting(on_progress):
                results = self._call(step, kwargs)
        except StepError as exc:
            results = exc
        if isinstance(results, StepError):  # outside the handler, so no traceback chains another's
            if len(runs) == 1:
                return [results]
            half = len(runs) // 2
            return [*self._batch(step, runs[:half], output_dir, on_progress),
                    *self._batch(step, runs[half:], output_dir, on_progress)]
        if not isinstance(results, (list, tuple)) or len(results) != len(runs):  # the step's own bug
            got = f"{len(results)} results" if isinstance(results, (list, tuple)) else type(results).__name__
            return [StepError(f"batch step {step.name!r} was given {len(runs)} runs and must return a list of "
                              f"{len(runs)} results, got {got}", "", step.name)] * len(runs)
        answers: list[dict[str, Any] | StepError] = []
        for result in results:
            try:
                answers.append(_encoded(step, result, output_dir))
            except StepError as exc:  # one result that cannot be encoded fails its run only
                answers.append(exc)
        return answers

    def run_chain(self, inputs: Mapping[str, Any], choices: Mapping[str, Any] | None = None, *,
                  output_dir: str | None = None, on_progress: Reporter | None = None,
                  on_output: PartialOutputs | None = None) -> dict[str, Any]:
        """Run every step in order, filling each one's inputs with `fill_inputs`.

        `choices` maps a step name to what the user chose for that step's inputs (for example
        `{"classify": {"regions": {"selected": [0, 2]}}}`). Returns the last step's outputs
        and every step's: `{"outputs": {...}, "steps": [{"step": name, "outputs": {...}}]}`.
        """
        choices = dict(choices or {})
        if not isinstance(inputs, Mapping):
            raise InvalidInput("inputs must be a JSON object", field="inputs")
        unknown = [name for name in choices if self.model.get_step(name) is None]
        if unknown or not all(isinstance(c, Mapping) for c in choices.values()):
            raise InvalidInput(f"choices must map step names to objects of inputs; unknown "
                               f"step(s): {', '.join(map(repr, unknown)) or 'none'}",
                               field="choices")
        carried: dict[str, Any] = {}
        done: list[dict[str, Any]] = []
        for index, step in enumerate(self.model.steps):
            given = {**inputs, **choices.get(step.name, {})} if index == 0 \
                else dict(choices.get(step.name, {}))
            filled = fill_inputs(_manifest_inputs(step), carried, given)
            try:
                outputs = self.run(step.name, filled, output_dir=output_dir,
                                   on_progress=on_progress, on_output=on_output)
            except InvalidInput as exc:
                raise InvalidInput(f"step {step.name!r}: {exc.message}", field=exc.field) from exc
            # Later steps see this step's inputs as it ran them, defaults included (the gateway
            # records a run's inputs with defaults filled in, so previous_run behaves the same).
            carried.update({c.name: c.default_wire() for c in step.inputs if c.default is not None})
            carried.update({k: v for k, v in filled.items() if v is not None})
            carried.update(outputs)
            done.append({"step": step.name, "outputs": outputs})
        return {"outputs": done[-1]["outputs"], "steps": done}

    def _step(self, name: str) -> Step:
        step = self.model.get_step(name)
        if step is None:
            known = ", ".join(s.name for s in self.model.steps)
            raise InvalidInput(f"unknown step {name!r} (this model has: {known})", field="step")
        return step

    def _call(self, step: Step, kwargs: dict[str, Any], on_output: PartialOutputs | None = None) -> Any:
        try:
            result = step.fn(**kwargs)
            if inspect.isawaitable(result):
                result = self._event_loop().run_until_complete(result)
            if inspect.isasyncgen(result):
                result = _sync_generator(result, self._event_loop())
            if inspect.isgenerator(result):
                result = _drain(step, result, on_output)
            return result
        except Exception as exc:
            tb = exc.__traceback__.tb_next if exc.__traceback__ else None  # drop this frame
            raise StepError(f"{type(exc).__name__}: {exc}",
                            "".join(traceback.format_exception(type(exc), exc, tb)),
                            step.name) from exc

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop


_NOTHING = object()
_ADDED_UP = {"text", "markdown"}  # kinds whose yields are pieces of the output, not the whole


def _sync_generator(agen: Any, loop: asyncio.AbstractEventLoop) -> Iterator[Any]:
    while True:
        try:
            yield loop.run_until_complete(agen.__anext__())
        except StopAsyncIteration:
            return


def _drain(step: Step, generator: Iterator[Any], on_output: PartialOutputs | None) -> Any:
    """A generator step's outputs: each yield is the outputs so far, text ones added up."""
    so_far: Any = _NOTHING
    for value in generator:
        so_far = value if so_far is _NOTHING else _added(step, so_far, value)
        if on_output is not None:
            on_output(lambda current=so_far: _encode_outputs(step, current, None))
    if so_far is _NOTHING:
        raise TypeError(f"step {step.name!r} yielded nothing")
    return so_far


def _added(step: Step, before: Any, value: Any) -> Any:
    outs = step.outputs
    if len(outs) == 1:
        return before + value if outs[0].kind in _ADDED_UP and isinstance(before, str) \
            and isinstance(value, str) else value
    if isinstance(before, dict) and isinstance(value, dict):
        kinds = {c.name: c.kind for c in outs}
        return {**before, **{k: before[k] + v if kinds.get(k) in _ADDED_UP and isinstance(before.get(k), str)
                             and isinstance(v, str) else v for k, v in value.items()}}
    if isinstance(before, (tuple, list)) and isinstance(value, (tuple, list)) and len(before) == len(value) == len(outs):
        return tuple(b + v if c.kind in _ADDED_UP and isinstance(b, str) and isinstance(v, str) else v
                     for c, b, v in zip(outs, before, value))
    return value


def load(app_path: str | os.PathLike[str]) -> LoadedModel:
    """Import app.py (its folder stays on sys.path) and run `load` once."""
    started = time.perf_counter()
    model = load_model(app_path, keep_sys_path=True)
    context = model.load() if model.load is not None else None
    return LoadedModel(model, context, (time.perf_counter() - started) * 1000)


def _manifest_inputs(step: Step) -> dict[str, Any]:
    # The part of a manifest step that fill_inputs reads, without building schemas.
    return {"inputs": [{"name": c.name, "kind": c.kind} for c in step.inputs]}


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
            value = c.default_wire()
        kwargs[c.name] = c.decode(value)
    return kwargs


def _encoded(step: Step, result: Any, output_dir: str | None) -> dict[str, Any]:
    """The outputs a step returned, encoded; a value that cannot be is the step's error."""
    try:
        return _encode_outputs(step, result, output_dir)
    except (TypeError, ValueError) as exc:
        raise StepError(f"{type(exc).__name__}: {exc}", "", step.name) from exc


def _encode_outputs(step: Step, result: Any, output_dir: str | None) -> dict[str, Any]:
    outs: list[Component] = step.outputs
    if len(outs) == 1:
        return {outs[0].name: outs[0].encode(result, output_dir=output_dir)}
    names = [c.name for c in outs]
    if isinstance(result, dict) and set(result) == set(names):
        return {c.name: c.encode(result[c.name], output_dir=output_dir) for c in outs}
    if isinstance(result, (tuple, list)) and len(result) == len(outs):
        return {c.name: c.encode(v, output_dir=output_dir)
                for c, v in zip(outs, result, strict=True)}
    raise TypeError(f"step {step.name!r} must return a tuple of {len(outs)} values "
                    f"({', '.join(names)}) or a dict with those keys, got {type(result).__name__}"
                    + (f" with keys {sorted(result)}" if isinstance(result, dict) else ""))
