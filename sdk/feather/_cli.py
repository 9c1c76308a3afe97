"""The `feather` command line: login, publish, run, models, up.

Every failure ends as one `error: ...` line on stderr: exit 2 for bad usage or
input, 1 for anything else. Tracebacks are kept for real bugs only.
"""
import dataclasses
import importlib.util
import json
import os
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import _config
from ._client import Client, Run
from ._errors import BuildFailed, DefinitionError, FeatherError, InvalidInput, RunFailed

try:  # recent typer vendors click; older releases use the click package
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import NoArgsIsHelpError, UsageError  # type: ignore[assignment,no-redef]


class _Group(typer.core.TyperGroup):
    """Runs commands without click's standalone handling, so errors print our one-liner."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except NoArgsIsHelpError as exc:
            print(exc.format_message())
            code = 0
        except UsageError as exc:
            code = _fail(exc.format_message(), 2)
        except typer.Abort:
            code = _fail("aborted", 1)
        except BuildFailed as exc:
            if exc.log:
                sys.stderr.write(exc.log.rstrip("\n") + "\n")
            code = _fail(exc.message, 1)
        except RunFailed as exc:
            code = _fail(f"run failed: {exc.message}", 1)
        except (DefinitionError, InvalidInput) as exc:
            code = _fail(exc.message, 2)
        except FeatherError as exc:
            code = _fail(exc.message, 1)
        sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> int:
    sys.stderr.write("error: " + " ".join(str(message).split()) + "\n")
    return code


app = typer.Typer(cls=_Group, name="feather", help="Share and serve ML models.",
                  add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)

UrlOpt = Annotated[str | None, typer.Option(
    "--url", help="Platform URL (default: FEATHER_URL, then `feather login`).")]
TokenOpt = Annotated[str | None, typer.Option(
    "--token", help="API token (default: FEATHER_TOKEN, then `feather login`).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _err() -> Console:
    return Console(stderr=True, highlight=False)


@app.command()
def login(token: Annotated[str, typer.Option("--token", help="API token to save.")],
          url: UrlOpt = None) -> None:
    """Check a token against the platform and save it for later commands."""
    url, _ = _config.resolve(url, None)
    with Client(url, token) as client:
        me = client.me()
    path = _config.save(url, token)
    _err().print(f"logged in to {url} as {me.get('username', '?')} (saved to {path})", markup=False)


@app.command()
def publish(app_path: Annotated[str, typer.Argument(help="app.py, or the folder holding it.")],
            url: UrlOpt = None, token: TokenOpt = None,
            no_wait: Annotated[bool, typer.Option("--no-wait", help="Do not wait for the build.")] = False,
            timeout: Annotated[float, typer.Option(
                "--timeout", help="Seconds to wait for the build.")] = 900.0,
            as_json: JsonOpt = False) -> None:
    """Validate, pack and upload a model, then wait until its build is ready."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    console = _err()
    bars = Progress(TextColumn("uploading"), BarColumn(), DownloadColumn(), console=console,
                    transient=True, disable=as_json or not console.is_terminal)
    task = bars.add_task("upload", total=None, start=False)

    def progress(sent: int, total: int) -> None:
        if not bars.live.is_started:  # shown only once packing succeeded and bytes flow
            bars.start()
            bars.start_task(task)
        bars.update(task, completed=sent, total=total)

    with Client(url, token) as client:
        try:
            result = client.publish(app_path, progress=progress)
        finally:
            bars.stop()
        ref, version = f"{result['owner']}/{result['name']}", result["version"]
        status = result.get("status", "building")
        if not no_wait:
            _err().print(f"uploaded {ref} version {version}; building", markup=False)
            with _err().status(f"building {ref} v{version}") as spinner:
                client.wait_ready(ref, version, timeout, on_status=lambda s: spinner.update(
                    f"building {ref} v{version}: {s}"))
            status = "ready"
        page = result.get("url") or ""
        page = client.url + page if page.startswith("/") else page
    if as_json:
        print(json.dumps({**result, "status": status, "url": page or None}))
    else:
        print(f"{ref} version {version} is {status}" + (f": {page}" if page else ""))


@app.command()
def run(ref: Annotated[str, typer.Argument(metavar="OWNER/NAME", help="The model to run.")],
        pairs_: Annotated[list[str] | None, typer.Option(
            "--input", "-i", metavar="KEY=VALUE", help="An input; repeat for several.")] = None,
        inputs_json: Annotated[str | None, typer.Option(
            "--inputs-json", metavar="FILE", help="JSON object of inputs ('-' for stdin).")] = None,
        version: Annotated[int | None, typer.Option(
            "--version", help="Model version (default: latest).")] = None,
        wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for the result.")] = 60.0,
        url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Run a model and print its outputs."""
    inputs = _read_inputs_json(inputs_json) if inputs_json else {}
    pairs = [_split_pair(item) for item in pairs_ or []]
    with Client(url, token) as client:
        if pairs:  # number inputs need the manifest to turn "3" into 3
            specs = _input_specs(client.model(ref))
            inputs.update({key: _convert(key, value, specs.get(key)) for key, value in pairs})
        result = client.run_with(ref, inputs, version=version, wait=wait)
    _print_run(result, as_json)


@app.command()
def models(url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """List the models on the platform."""
    with Client(url, token) as client:
        items = client.models()
    if as_json:
        print(json.dumps(items))
        return
    table = Table("model", "version", "status", "description")
    for m in items:
        table.add_row(Text(f"{m.get('owner')}/{m.get('name')}"), str(m.get("latest_version") or "-"),
                      Text(str(m.get("status") or "-")), Text(m.get("description") or ""))
    Console().print(table)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def up(ctx: typer.Context) -> None:
    """Start the whole platform locally (runs `python -m services.local ARGS`)."""
    # find_spec on a top-level name locates the package without importing it.
    spec = importlib.util.find_spec("services")
    places = list(spec.submodule_search_locations or []) if spec else []
    if not any(os.path.isdir(os.path.join(p, "local")) for p in places):
        raise FeatherError("`feather up` needs the feather platform services (the `services` "
                           "package), which are not installed in this environment")
    os.execv(sys.executable, [sys.executable, "-m", "services.local", *ctx.args])


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


def _input_specs(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    steps = (model.get("manifest") or {}).get("steps") or [{}]
    return {i["name"]: i for i in steps[0].get("inputs") or [] if isinstance(i, dict) and "name" in i}


def _convert(key: str, value: str, spec: dict[str, Any] | None) -> Any:
    if not spec or spec.get("kind") != "number":
        return value  # text, or unknown to the manifest: let the server judge it
    try:
        number = float(value)
        if spec.get("schema", {}).get("type") == "integer" or number.is_integer() and "." not in value:
            if not number.is_integer():
                raise ValueError
            return int(number)
        return number
    except (ValueError, OverflowError):
        raise InvalidInput(f"input {key!r} must be a number, got {value!r}", field=key) from None


def _print_run(result: Run, as_json: bool) -> None:
    if as_json:
        print(json.dumps(dataclasses.asdict(result)))
        return
    table = Table("output", "value", show_header=True)
    for name, value in (result.outputs or {}).items():
        shown = value if isinstance(value, str) else json.dumps(value, indent=2)
        table.add_row(Text(name), Text(shown))
    Console().print(table)
    m = result.metrics or {}
    if result.status != "succeeded":
        _err().print(f"run {result.id} is still {result.status}", markup=False)
    elif m.get("total_ms") is not None:
        _err().print(f"run {result.id} took {m['total_ms']:.0f} ms "
                     f"(predict {m.get('predict_ms') or 0:.0f} ms)", markup=False)


def main() -> None:
    app(prog_name="feather")


if __name__ == "__main__":
    main()
