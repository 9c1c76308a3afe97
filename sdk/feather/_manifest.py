"""Load an app.py and describe its Model as a manifest, without running any step."""
from __future__ import annotations

import importlib.util
import itertools
import json
import os
import re
import sys
import traceback
from types import ModuleType
from typing import Any

from . import __version__
from ._components import Component
from ._errors import DefinitionError
from ._model import Model

MANIFEST_VERSION = 1
MANIFEST_SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "manifest.schema.json")
_counter = itertools.count(1)


def resolve_app(app_path: str | os.PathLike[str]) -> str:
    """Accept either the app.py file or the folder that holds it."""
    path = os.path.abspath(os.fspath(app_path))
    if os.path.isdir(path):
        path = os.path.join(path, "app.py")
    if not os.path.isfile(path):
        raise DefinitionError(f"{os.fspath(app_path)}: no such file")
    return path


def load_model(app_path: str | os.PathLike[str], *, keep_sys_path: bool = False) -> Model:
    """Import app.py and return its single Model, with requirements.txt merged in."""
    path = resolve_app(app_path)
    module = _import(path, keep_sys_path)
    model = _find_model(module, path)
    model.check()
    model.requirements = _merge(model.requirements, _read_requirements(path))
    model.app_path = path  # type: ignore[attr-defined]
    return model


def _import(path: str, keep_sys_path: bool) -> ModuleType:
    folder = os.path.dirname(path)
    # The app folder goes first on sys.path so app.py can import its sibling modules.
    sys.path.insert(0, folder)
    name = f"_feather_app_{next(_counter)}"
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    except DefinitionError:
        raise
    except SyntaxError as exc:
        raise DefinitionError(f"syntax error: {exc.msg}", exc.filename or path, exc.lineno) from exc
    except Exception as exc:
        line = _line_in(exc, path)
        raise DefinitionError(f"importing the app failed: {type(exc).__name__}: {exc}",
                              path, line) from exc
    finally:
        if not keep_sys_path and folder in sys.path:
            sys.path.remove(folder)


def _line_in(exc: BaseException, path: str) -> int | None:
    """Deepest traceback line inside app.py, where the import went wrong."""
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__)
             if os.path.abspath(f.filename) == path]
    return lines[-1] if lines else None


def _find_model(module: ModuleType, path: str) -> Model:
    found: list[Model] = []
    for value in vars(module).values():
        if isinstance(value, Model) and all(value is not m for m in found):
            found.append(value)
    if not found:
        raise DefinitionError("no feather Model found; create one with "
                              "model = ft.Model(\"name\") at module level", path)
    if len(found) > 1:
        first, second = sorted(found, key=lambda m: m._line or 0)[:2]
        second._fail(f"a second Model {second.name!r} is defined (the first, {first.name!r}, "
                     f"is at line {first._line}); an app defines exactly one Model")
    return found[0]


def _read_requirements(app_file: str) -> list[str]:
    req_path = os.path.join(os.path.dirname(app_file), "requirements.txt")
    if not os.path.isfile(req_path):
        return []
    reqs = []
    with open(req_path, encoding="utf-8") as fh:
        for number, raw in enumerate(fh, 1):
            line = re.sub(r"(^|\s)#.*$", "", raw).strip()
            if line.startswith("-"):
                raise DefinitionError(f"pip options such as {line.split()[0]!r} are not "
                                      "supported; list packages only", req_path, number)
            if line:
                reqs.append(line)
    return reqs


def _merge(first: list[str], second: list[str]) -> list[str]:
    return list(dict.fromkeys([*first, *second]))


def build_manifest(model: Model) -> dict[str, Any]:
    """The manifest (feather.json): everything the platform needs, derived without running."""
    model.check()
    return {
        "manifest_version": MANIFEST_VERSION,
        "name": model.name,
        "description": model.description,
        "sdk_version": __version__,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "requirements": list(model.requirements),
        "files": list(model.files),
        "has_load": model.load is not None,
        "steps": [{
            "name": step.name,
            "description": step.description,
            "inputs": [input_entry(c) for c in step.inputs],
            "outputs": [output_entry(c) for c in step.outputs],
            "input_schema": input_schema(step.inputs),
            "interactive": list(step.interactive),
            # a generator step yields its outputs as it makes them: clients may show them live
            **({"streams": True} if step.streams else {}),
            # runs of this step may be given to it together, up to max_size at once
            **({"batch": step.batch.manifest()} if step.batch else {}),
        } for step in model.steps],
        **({"examples": [dict(e) for e in model.examples]} if model.examples else {}),
        **({"task": model.task} if model.task else {}),
    }


def input_entry(c: Component) -> dict[str, Any]:
    return {"name": c.name, "kind": c.kind, "label": c.label, "description": c.description,
            "required": c.required, "default": c.default_wire(),
            "props": c.props, "schema": c.json_schema()}


def output_entry(c: Component) -> dict[str, Any]:
    return {"name": c.name, "kind": c.kind, "label": c.label, "description": c.description,
            "props": c.props, "schema": c.output_schema()}


def input_schema(inputs: list[Component]) -> dict[str, Any]:
    """One JSON Schema for a whole request body's `inputs`, for server-side validation."""
    return {"type": "object",
            "properties": {c.name: c.json_schema() for c in inputs},
            "required": [c.name for c in inputs if c.required],
            "additionalProperties": False}


def manifest_schema() -> dict[str, Any]:
    """The JSON Schema every manifest conforms to (shipped as feather/manifest.schema.json)."""
    with open(MANIFEST_SCHEMA_PATH, encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    return schema
