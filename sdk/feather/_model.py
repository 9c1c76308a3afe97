"""`Model` and `Step`: what an app.py declares.

Every check runs at definition time so mistakes surface as a DefinitionError
pointing at the app.py line, before anything is uploaded or run.
"""
from __future__ import annotations

import inspect
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from ._components import Component
from ._errors import DefinitionError, caller_location

_MODEL_NAME = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
_STEP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CONTEXT = "context"  # parameter name through which a step receives what `load` returned
# Kinds whose next-step value is the previous output merged with the user's choice (docs/wire.md).
MERGED_KINDS = frozenset({"pick_list", "image_regions"})


class Batch:
    """How a step takes runs in batches: up to ``max_size`` runs of the same version at once,
    waiting at most ``max_wait_ms`` after the first for others to join.

    A batch step receives each input as a list (one value per run, in the same order) and
    returns a list with one result per run, each what the step would return for one run.
    """
    MAX_SIZE = 64
    MAX_WAIT_MS = 1000

    def __init__(self, max_size: int = 32, max_wait_ms: float = 10) -> None:
        if (problem := self.problem(max_size, max_wait_ms)) is not None:
            field, reason = problem
            value = max_size if field == "max_size" else max_wait_ms
            raise DefinitionError(f"Batch {field} must be {reason}, got {value!r}", *caller_location())
        self.max_size, self.max_wait_ms = max_size, max_wait_ms

    @classmethod
    def problem(cls, max_size: Any, max_wait_ms: Any) -> tuple[str, str] | None:
        """The field that is out of range and what it must be, or None (the platform checks a
        manifest's batch with this too)."""
        if isinstance(max_size, bool) or not isinstance(max_size, int) or not 1 <= max_size <= cls.MAX_SIZE:
            return "max_size", f"a whole number from 1 to {cls.MAX_SIZE}"
        if isinstance(max_wait_ms, bool) or not isinstance(max_wait_ms, (int, float)) \
                or not 0 <= max_wait_ms <= cls.MAX_WAIT_MS:
            return "max_wait_ms", f"a number of milliseconds from 0 to {cls.MAX_WAIT_MS}"
        return None

    def manifest(self) -> dict[str, Any]:
        return {"max_size": self.max_size, "max_wait_ms": self.max_wait_ms}

    def __repr__(self) -> str:
        return f"Batch(max_size={self.max_size}, max_wait_ms={self.max_wait_ms})"


class Step:
    """One callable endpoint of a model: a function plus its input/output components."""

    def __init__(self, fn: Callable[..., Any], *, inputs: Sequence[Component] = (),
                 outputs: Sequence[Component] = (), name: str | None = None,
                 description: str | None = None, batch: Batch | None = None) -> None:
        self._file, self._line = caller_location()
        self._init(fn, inputs, outputs, name, description, batch)

    def _init(self, fn: Callable[..., Any], inputs: Sequence[Component],
              outputs: Sequence[Component], name: str | None, description: str | None,
              batch: Batch | None = None) -> None:
        if not callable(fn):
            self._fail(f"step function must be callable, got {fn!r}")
        self.fn = fn
        step_name = name or getattr(fn, "__name__", "")
        if not isinstance(step_name, str) or not _STEP_NAME.fullmatch(step_name):
            self._fail(f"step name must be a Python identifier, got {step_name!r}")
        self.name: str = step_name
        doc = inspect.getdoc(fn) if description is None else description
        self.description = doc.strip() if doc else None
        self.inputs = self._components(inputs, "inputs", "can_input")
        self.outputs = self._components(outputs, "outputs", "can_output")
        if not self.outputs:
            self._fail(f"step {self.name!r} has no outputs")
        self.interactive = [c.name for c in self.outputs if c.interactive]
        self.wants_context = self._check_signature()
        self.batch = self._check_batch(batch)

    def _components(self, items: Sequence[Component], role: str, ability: str) -> list[Component]:
        if isinstance(items, Component) or not isinstance(items, (list, tuple)):
            self._fail(f"step {self.name!r}: {role} must be a list of components, got {items!r}")
        seen: set[str] = set()
        for item in items:
            if not isinstance(item, Component):
                self._fail(f"step {self.name!r}: {role} contains {item!r}, which is not a "
                           "feather component (such as ft.Text, ft.Image, ft.Label)")
            if not getattr(item, ability):
                self._fail(f"step {self.name!r}: {type(item).__name__} cannot be used in {role}")
            if item.name in seen:
                self._fail(f"step {self.name!r}: duplicate {role[:-1]} name {item.name!r}")
            seen.add(item.name)
        return list(items)

    def _check_signature(self) -> bool:
        """Parameters must be exactly the input names (plus an optional `context`)."""
        try:
            params = inspect.signature(self.fn).parameters
        except (TypeError, ValueError):
            return False  # builtins without a signature: trust the declaration
        names = {c.name for c in self.inputs}
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        declared = [p for p in params.values() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        for p in params.values():
            if p.kind in (p.POSITIONAL_ONLY, p.VAR_POSITIONAL):
                self._fail(f"step {self.name!r}: parameter {p.name!r} cannot be passed by name")
        extra = [p.name for p in declared if p.name not in names and p.name != CONTEXT]
        missing = [] if takes_any else sorted(names - {p.name for p in declared})
        if extra:
            self._fail(f"step {self.name!r}: parameter(s) {', '.join(extra)} match no input "
                       f"(inputs: {', '.join(sorted(names)) or 'none'})")
        if missing:
            self._fail(f"step {self.name!r}: input(s) {', '.join(missing)} have no parameter "
                       "of the same name in the function")
        return CONTEXT in params and CONTEXT not in names

    def _check_batch(self, batch: Any) -> Batch | None:
        if batch is None:
            return None
        if not isinstance(batch, Batch):
            self._fail(f"step {self.name!r}: batch must be ft.Batch(max_size=..., max_wait_ms=...), got {batch!r}")
        if self.streams:
            self._fail(f"step {self.name!r} is a generator: a batch step returns one list of results, "
                       "it cannot stream")
        if self.interactive:
            self._fail(f"step {self.name!r} returns interactive output(s), which a batch step cannot")
        return batch

    @property
    def streams(self) -> bool:
        """A generator step yields its outputs as it makes them."""
        return inspect.isgeneratorfunction(self.fn) or inspect.isasyncgenfunction(self.fn)

    def _fail(self, message: str) -> NoReturn:
        raise DefinitionError(message, self._file, self._line)

    def __repr__(self) -> str:
        return f"Step({self.name!r})"


class Model:
    """A shareable model: a name, its steps and what it needs to run."""

    def __init__(self, name: str, *, description: str | None = None,
                 steps: Sequence[Step] = (), requirements: Sequence[str] = (),
                 files: Sequence[str] = (), load: Callable[[], Any] | None = None,
                 examples: Sequence[Mapping[str, Any]] = (), task: str | None = None) -> None:
        self._file, self._line = caller_location()
        if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name):
            self._fail(f"model name {name!r} is invalid: use 1-64 lowercase letters, digits "
                       "or '-', starting with a letter")
        if task is not None and (not isinstance(task, str) or not _MODEL_NAME.fullmatch(task)):
            self._fail(f"task {task!r} is invalid: use 1-64 lowercase letters, digits or '-', such as "
                       "'digit-classification'")
        self.task = task
        if load is not None and not callable(load):
            self._fail(f"load must be a function, got {load!r}")
        self.name, self.description, self.load = name, description, load
        self.requirements = [self._requirement(r) for r in requirements]
        self.files = [self._file_entry(f) for f in files]
        self.steps: list[Step] = []
        for step in steps:
            self.add_step(step)
        # inputs for the first step that the portal offers with one click (JSON values)
        self.examples = [dict(e) if isinstance(e, Mapping) else self._fail(
            f"each example must be a dict of the first step's inputs, got {e!r}") for e in examples]

    def step(self, *, inputs: Sequence[Component] = (), outputs: Sequence[Component] = (),
             name: str | None = None, description: str | None = None, batch: Batch | None = None
             ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator form of `Step`; returns the function unchanged so it stays testable."""
        file, line = caller_location()

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            step = Step.__new__(Step)
            step._file, step._line = file, line
            step._init(fn, inputs, outputs, name, description, batch)
            self.add_step(step)
            return fn
        return register

    def add_step(self, step: Step) -> None:
        if not isinstance(step, Step):
            self._fail(f"steps must contain ft.Step objects, got {step!r}")
        if any(s.name == step.name for s in self.steps):
            step._fail(f"duplicate step name {step.name!r} in model {self.name!r}")
        if self.steps:
            _check_link(self.steps[-1], step)
        self.steps.append(step)

    def check(self) -> None:
        """Checks that need every step: run once the app is imported."""
        if not self.steps:
            self._fail(f"model {self.name!r} has no steps; add one with @model.step(...)")
        first = {c.name: c for c in self.steps[0].inputs}
        for number, example in enumerate(self.examples, 1):
            for key, value in example.items():
                if key not in first:
                    self._fail(f"example {number} names {key!r}, which is not an input of step "
                               f"{self.steps[0].name!r}")
                try:
                    first[key].validate(value)
                except Exception as exc:
                    self._fail(f"example {number}: {exc}")
        last = self.steps[-1]
        if last.interactive:
            last._fail(f"step {last.name!r} returns interactive output(s) "
                       f"{', '.join(last.interactive)} but no step follows to receive the "
                       "user's choice")

    def get_step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    def manifest(self) -> dict[str, Any]:
        from ._manifest import build_manifest  # manifest layout lives with its loader
        return build_manifest(self)

    def _requirement(self, req: Any) -> str:
        if not isinstance(req, str) or not req.strip() or req.strip().startswith("-"):
            self._fail(f"requirement {req!r} must be a package spec such as 'numpy>=2'")
        return req.strip()

    def _file_entry(self, path: Any) -> str:
        norm = posixpath.normpath(path.replace("\\", "/")) if isinstance(path, str) else ""
        if not norm or norm == "." or norm.startswith(("/", "../")) or norm == "..":
            self._fail(f"files entry {path!r} must be a path inside the app folder")
        return norm

    def _fail(self, message: str) -> NoReturn:
        raise DefinitionError(message, self._file, self._line)

    def __repr__(self) -> str:
        return f"Model({self.name!r}, steps={[s.name for s in self.steps]})"


def _check_link(before: Step, after: Step) -> None:
    """Each interactive output of a step must be an input (same name, same kind) of the next."""
    inputs = {c.name: c for c in after.inputs}
    for output in before.outputs:
        if not output.interactive:
            continue
        target = inputs.get(output.name)
        if target is None:
            after._fail(f"step {after.name!r} must take an input {output.name!r} "
                        f"({type(output).__name__}): step {before.name!r} returns it as an "
                        "interactive output, and the user's choice arrives under that name")
        if target.kind != output.kind:
            after._fail(f"step {after.name!r}: input {output.name!r} is {type(target).__name__}, "
                        f"but step {before.name!r} returns it as {type(output).__name__}; "
                        "use the same component")


def next_step(manifest: Mapping[str, Any], after: str | None) -> str | None:
    """The name of the step that follows ``after`` in ``manifest``; None after the last step or
    for a name the manifest does not have (the caller then picks the first, or says which)."""
    names = [s["name"] for s in manifest.get("steps", [])]
    return names[names.index(after) + 1] if after in names[:-1] else None


def fill_inputs(manifest_step: Mapping[str, Any], carried: Mapping[str, Any],
                given: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs of one step of a chain, filled by name (docs/wire.md, "Multi-step models").

    `carried`: wire values from earlier steps, their inputs then their outputs, later steps
    winning (the gateway uses the previous run's `{**inputs, **outputs}`). `given`: what the
    caller sent for this step (its inputs, or its entry of `choices`).

    For each input the step declares: a given value wins, except that for pick_list and
    image_regions a given object is merged over the carried one (`{**carried, **given}`, so
    `{"selected": [0, 2]}` completes the previous output); otherwise the carried value is
    used; with neither the input is left out and its default applies. Given names the step
    does not declare are kept, so validation reports them. Works on manifest dicts alone.
    """
    filled: dict[str, Any] = {}
    for spec in manifest_step.get("inputs", []):
        name = spec["name"]
        if name in given:
            value, before = given[name], carried.get(name)
            if spec.get("kind") in MERGED_KINDS and isinstance(value, dict) \
                    and isinstance(before, dict):
                value = {**before, **value}
            filled[name] = value
        elif name in carried:
            filled[name] = carried[name]
    for name, value in given.items():
        filled.setdefault(name, value)
    return filled
