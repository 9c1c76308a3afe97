"""`feather run`: inputs from the command line, outputs printed or saved to a folder."""
from __future__ import annotations

import json
import mimetypes
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ._cli_common import Client, JsonOpt, RefArg, TokenOpt, UrlOpt, connect, err, print_json, run_dict
from ._client_files import is_file_value
from ._client_run import Run
from ._errors import FeatherError, InvalidInput
from ._files import safe_name
from ._wire_client import FILE_KINDS, FILE_URLS, input_specs, step_entry

_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


def run(ref: RefArg,
        pairs_: Annotated[list[str] | None, typer.Option(
            "--input", "-i", metavar="KEY=VALUE",
            help="An input; repeat for several. VALUE @path reads a file.")] = None,
        inputs_json: Annotated[str | None, typer.Option(
            "--inputs-json", metavar="FILE", help="JSON object of inputs ('-' for stdin).")] = None,
        step: Annotated[str | None, typer.Option("--step", help="The step to run.")] = None,
        previous_run: Annotated[str | None, typer.Option(
            "--previous-run", metavar="RUN_ID",
            help="Continue that run: its inputs and outputs fill this step's by name.")] = None,
        output_dir: Annotated[Path | None, typer.Option(
            "--output-dir", metavar="DIR", help="Save file outputs in DIR.")] = None,
        version: Annotated[int | None, typer.Option(
            "--version", help="Model version (default: latest).")] = None,
        wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for the result.")] = 60.0,
        url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Run a model and print its outputs."""
    inputs = _read_inputs_json(inputs_json) if inputs_json else {}
    pairs = [_split_pair(item) for item in pairs_ or []]
    with connect(url, token) as client:
        info = client.model(ref.split(":")[0]) if pairs or not (as_json or previous_run) else None
        if pairs:  # the manifest says how to read each value ("3" is a number for a Number)
            specs = input_specs(info, None if previous_run and not step else step_entry(info, step))
            inputs.update({key: convert(key, value, specs.get(key)) for key, value in pairs})
        entry = step_entry(info, step) if info is not None and not (as_json or previous_run) else None
        if entry is not None and entry.get("streams") and not {"version", "step"} & set(inputs):
            result = _streamed(client, ref, inputs, version, step, entry)
        else:
            result = client.run_with(ref, inputs, version=version, step=step,
                                     previous_run=previous_run, wait=wait)
        saved = _save_outputs(client, result, output_dir) if output_dir else {}
    if as_json:
        print_json({**run_dict(result), **({"saved": saved} if output_dir else {})})
    else:
        _print_run(result, saved)


def convert(key: str, raw: str, spec: dict[str, Any] | None) -> Any:
    """A command-line string as the value the input's manifest entry expects."""
    if raw.startswith("@@"):
        raw = raw[1:]  # "@@x" is the literal text "@x"
    elif raw.startswith("@"):
        path = Path(raw[1:]).expanduser()
        if spec is None or spec.get("kind") in FILE_KINDS:
            return path  # the client inlines or uploads it
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"input {key!r}: cannot read {path}: "
                               f"{getattr(exc, 'strerror', None) or exc}", field=key) from None
    if spec and spec.get("kind") in FILE_KINDS:
        if raw.startswith(FILE_URLS):
            return raw  # a file given by its URL, as the API takes it
        raise InvalidInput(f"input {key!r} is a file: give @path or its data:, http(s):// or feather:files/ URL",
                           field=key)
    kinds = (spec or {}).get("schema", {}).get("type")
    if spec and spec.get("kind") in ("number", "slider") and not kinds:
        kinds = "number"
    if kinds in ("number", "integer"):
        return _number(key, raw, kinds == "integer")
    if kinds == "boolean":
        if raw.strip().lower() not in _TRUE | _FALSE:
            raise InvalidInput(f"input {key!r} must be true or false, got {raw!r}", field=key)
        return raw.strip().lower() in _TRUE
    if kinds in ("array", "object"):
        try:
            return json.loads(raw)
        except ValueError:
            if kinds == "array":  # tags=a,b reads as ["a", "b"]
                return [item.strip() for item in raw.split(",") if item.strip()]
            raise InvalidInput(f"input {key!r} must be a JSON object, got {raw!r:.60}", field=key) from None
    return raw


def _number(key: str, raw: str, integer: bool) -> float | int:
    try:
        number = float(raw)
        if integer or (number.is_integer() and "." not in raw and "e" not in raw.lower()):
            if not number.is_integer():
                raise ValueError
            return int(number)
        return number
    except (ValueError, OverflowError):
        raise InvalidInput(f"input {key!r} must be a number, got {raw!r}", field=key) from None


def _read_inputs_json(path: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
        data = json.loads(text)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", field="inputs") from exc
    except ValueError as exc:
        raise InvalidInput(f"{path} is not valid JSON: {exc}", field="inputs") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} must hold a JSON object of inputs", field="inputs")
    return data


def _split_pair(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise InvalidInput(f"--input expects KEY=VALUE, got {item!r}", field="input")
    return key.strip(), value


def _files_in(value: Any) -> list[dict[str, Any]]:
    if is_file_value(value):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [f for item in items for f in _files_in(item)]


def _save_outputs(client: Client, result: Run, folder: Path) -> dict[str, list[str]]:
    """Write each file output into `folder` as <output>[-<n>]<ext>; output name -> paths.

    Names come from the model, so each is reduced to a plain file name, never replaces a file
    this run already wrote, and is written without following a link: nothing lands outside
    `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    saved: dict[str, list[str]] = {}
    taken: set[str] = set()
    for name, value in (result.outputs or {}).items():
        found = _files_in(value)
        for index, file in enumerate(found, 1):
            ext = Path(str(file.get("name") or "")).suffix or \
                mimetypes.guess_extension(str(file.get("content_type") or "")) or ".bin"
            wanted = safe_name(f"{name}{ext}" if len(found) == 1 else f"{name}-{index}{ext}")
            stem, dot, suffix = wanted.rpartition(".") if "." in wanted else (wanted, "", "")
            plain, n = wanted, 1
            while plain in taken:
                n += 1
                plain = f"{stem}-{n}{dot}{suffix}"
            taken.add(plain)
            _write_new(root / plain, client.download(file))
            saved.setdefault(name, []).append(str(folder / plain))
    return saved


def _write_new(path: Path, data: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    except OSError as exc:  # a link there is not followed
        raise FeatherError(f"cannot save an output as {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _shown(value: Any) -> str:
    if is_file_value(value):
        url, size = str(value["url"]), value.get("size")
        return (url[:40] + "…" if url.startswith("data:") else url) + \
            (f" ({size:,} bytes)" if isinstance(size, int) else "")
    return str(value) if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)


def _streamed(client: Client, ref: str, inputs: dict[str, Any], version: int | None, step: str | None,
              entry: dict[str, Any]) -> Run:
    """Run a step that yields, printing its text outputs as they grow; the run once it ends."""
    texts = [o["name"] for o in entry.get("outputs") or [] if o.get("kind") in ("text", "markdown")]
    shown = ""
    done = None
    for event in client.stream(ref, version=version, step=step, **inputs):
        if event.event == "output" and texts:
            text = ((event.data or {}).get("outputs") or {}).get(texts[0])
            if isinstance(text, str) and text.startswith(shown):
                sys.stdout.write(_printable(text[len(shown):]))
                sys.stdout.flush()
                shown = text
        elif event.event == "done":
            done = event.data
    if shown:
        sys.stdout.write("\n")
    if done is None:
        raise FeatherError("the run's stream ended before the run did")
    result = Run.from_dict(done)
    if shown and result.outputs and result.outputs.get(texts[0]) == shown:
        result.outputs = {k: v for k, v in result.outputs.items() if k != texts[0]}  # printed already
    if result.status != "succeeded":
        raise FeatherError(f"run {result.id} {result.status}: {result.error or 'no reason given'}")
    return result


_CONTROL = {c: None for c in range(32) if chr(c) not in "\n\t"} | {0x7f: None}


def _printable(text: str) -> str:
    """A model's text without the control characters a terminal would act on (escapes)."""
    return text.translate(_CONTROL)


def _print_run(result: Run, saved: dict[str, list[str]]) -> None:
    table = Table("output", "value", show_header=True)
    for name, value in (result.outputs or {}).items():
        shown = "saved: " + ", ".join(Path(p).name for p in saved[name]) if name in saved \
            else _shown(value)
        table.add_row(Text(name), Text(shown))
    if table.row_count:
        Console().print(table)
    for path in (p for paths in saved.values() for p in paths):
        print(path)  # whole paths on lines of their own, never wrapped, for scripts
    m = result.metrics or {}
    if result.status != "succeeded":
        err().print(f"run {result.id} is still {result.status}", markup=False)
    elif m.get("total_ms") is not None:
        err().print(f"run {result.id} took {m['total_ms']:.0f} ms "
                    f"(predict {m.get('predict_ms') or 0:.0f} ms)", markup=False)
