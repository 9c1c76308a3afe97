"""Inputs before they are sent: Python values -> wire values, checked against the manifest.

Nothing here touches the network. A file that has to travel is first recorded by
`PendingFiles` (the `upload` callback components receive) and stands as a placeholder
file value; the client inlines or uploads it only after every input passed its checks,
so a bad input never costs an upload, and the async client needs no sync callback.
"""
from __future__ import annotations

import json
from typing import Any

from . import _wire_files as fv
from ._errors import InvalidInput
from ._wire_schema import problem

FILE_KINDS = frozenset({"image", "audio", "file"})
PENDING = "feather:files/pending-"  # placeholder urls; never sent
FILE_URLS = ("data:", "http://", "https://", "feather:")  # how a file may be given by its URL


class PendingFiles:
    """Files waiting to be sent, by placeholder url; callable as a component's `upload`."""

    def __init__(self) -> None:
        self.files: dict[str, fv.File] = {}

    def __call__(self, data: bytes, name: str, content_type: str) -> dict[str, Any]:
        url = f"{PENDING}{len(self.files)}"
        self.files[url] = (bytes(data), name, content_type)
        return {"url": url, "name": name, "content_type": content_type, "size": len(data)}


def step_entry(info: dict[str, Any] | None, step: str | None) -> dict[str, Any] | None:
    """The manifest entry of `step` (default: the first step); None without a manifest."""
    steps = [s for s in ((info or {}).get("manifest") or {}).get("steps") or [] if isinstance(s, dict)]
    if not steps:
        return None
    if step is None:
        return steps[0]
    for entry in steps:
        if entry.get("name") == step:
            return entry
    known = ", ".join(str(s.get("name")) for s in steps)
    raise InvalidInput(f"invalid input: unknown step {step!r} (this model has: {known})", field="step")


def input_specs(info: dict[str, Any] | None, entry: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Input name -> manifest entry; without a chosen step, the first step declaring it wins."""
    steps = [entry] if entry else ((info or {}).get("manifest") or {}).get("steps") or []
    specs: dict[str, dict[str, Any]] = {}
    for step in steps:
        for spec in (step or {}).get("inputs") or []:
            if isinstance(spec, dict) and isinstance(spec.get("name"), str):
                specs.setdefault(spec["name"], spec)
    return specs


def prepare(entry: dict[str, Any] | None, specs: dict[str, dict[str, Any]],
            inputs: dict[str, Any], pending: PendingFiles, *, partial: bool) -> dict[str, Any]:
    """Wire values for `inputs`; InvalidInput naming the first bad one. `entry` None: no checks.

    `partial`: inputs may be missing because the server carries them from a previous run.
    """
    if entry is not None:
        for name in inputs:
            if name not in specs:
                raise InvalidInput(f"invalid input: unknown input {name!r} for step "
                                   f"{entry.get('name')!r} (inputs: {', '.join(specs) or 'none'})",
                                   field=name)
    wire: dict[str, Any] = {}
    for name, value in inputs.items():
        spec = specs.get(name)
        component = component_for(spec)
        if value is None:  # null asks for the default, for the server to fill in
            wire[name] = None
            continue
        try:
            if component is not None:
                wire[name] = component.to_wire(value, upload=pending)
                if entry is not None:
                    component.validate(wire[name])
            else:
                wire[name] = _convert(value, (spec or {}).get("kind"), pending)
                found = problem(spec.get("schema"), wire[name]) if entry and spec else None
                if found:
                    raise InvalidInput(f"invalid input: input {name!r} {found}", field=name)
            json.dumps(wire[name], allow_nan=False)
        except InvalidInput as exc:
            text = exc.message if exc.message.startswith("invalid input") else f"invalid input: {exc.message}"
            raise InvalidInput(text, field=exc.field or name) from None
        except OSError as exc:
            where = exc.filename if exc.filename is not None else "the file"
            raise InvalidInput(f"invalid input: input {name!r}: cannot read {where}: "
                               f"{exc.strerror or exc}", field=name) from None
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"invalid input: input {name!r}: {exc}", field=name) from None
    if entry is not None and not partial:
        for name, spec in specs.items():
            if spec.get("required") and wire.get(name) is None:  # null means "the default"
                raise InvalidInput(f"invalid input: input {name!r} is required", field=name)
    return wire


def _convert(value: Any, kind: str | None, pending: PendingFiles) -> Any:
    """Without a component for the kind: JSON as is, file-like objects as pending files."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        if kind not in FILE_KINDS or value.startswith(FILE_URLS):
            return {"url": value} if kind in FILE_KINDS else value
        return pending(*fv.read_path(value))
    if isinstance(value, dict):
        if kind in FILE_KINDS and isinstance(value.get("url"), str):
            return value  # already a wire file value
        return {str(k): _convert(v, None, pending) for k, v in value.items()}
    if isinstance(value, list) or (isinstance(value, tuple) and not fv.is_audio_pair(value)):
        return [_convert(v, kind, pending) for v in value]
    if fv.is_array(value) and kind not in FILE_KINDS:
        return value.tolist()
    if fv.is_numpy_scalar(value):
        return value.item()
    found = fv.to_bytes(value, kind)
    if found is None:
        raise TypeError(f"a {type(value).__name__} value cannot be sent")
    return pending(*found)


def component_for(spec: dict[str, Any] | None) -> Any:
    """The component a manifest entry describes, when this SDK's components can rebuild it."""
    if not spec:
        return None
    from . import _components
    rebuild = getattr(_components, "component_from_manifest", None) or \
        getattr(_components, "from_manifest", None)
    registry = getattr(getattr(_components, "Component", None), "registry", None)
    if rebuild is None or (isinstance(registry, dict) and spec.get("kind") not in registry):
        return None
    try:
        return rebuild(spec)
    except Exception:  # an entry this SDK version cannot rebuild: the schema checks still apply
        return None


def replace_pending(value: Any, sent: dict[str, dict[str, Any]]) -> Any:
    """`value` with every placeholder file value swapped for what was actually sent."""
    if isinstance(value, dict):
        url = value.get("url")
        if isinstance(url, str) and url in sent:
            return {**value, **sent[url]}
        return {k: replace_pending(v, sent) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_pending(v, sent) for v in value]
    return value
