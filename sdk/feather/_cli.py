"""The `feather` command line: login, init, publish, run, runs, logs, cancel, models, delete, up.

Some commands live in `_cli_run` and `_cli_manage`; all are registered below, on the app
from `_cli_common`, where errors become one `error: ...` line.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import _config
from ._cli_common import Client, JsonOpt, TokenOpt, UrlOpt, app, connect, err, print_json
from ._errors import BuildFailed, FeatherError

__all__ = ["app", "main"]


def login(token: Annotated[str, typer.Option("--token", help="API token to save.")],
          url: UrlOpt = None) -> None:
    """Check a token against the platform and save it for later commands."""
    url, _ = _config.resolve(url, None)
    with connect(url, token) as client:
        me = client.me()
    path = _config.save(url, token)
    err().print(f"logged in to {url} as {me.get('username', '?')} (saved to {path})", markup=False)


def publish(app_path: Annotated[str, typer.Argument(help="app.py, or the folder holding it.")],
            url: UrlOpt = None, token: TokenOpt = None,
            no_wait: Annotated[bool, typer.Option("--no-wait", help="Do not wait for the build.")] = False,
            timeout: Annotated[float, typer.Option(
                "--timeout", help="Seconds to wait for the build.")] = 900.0,
            as_json: JsonOpt = False) -> None:
    """Validate, pack and upload a model, then show its build log until it is ready."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    console = err()
    bars = Progress(TextColumn("uploading"), BarColumn(), DownloadColumn(), console=console,
                    transient=True, disable=as_json or not console.is_terminal)
    task = bars.add_task("upload", total=None, start=False)

    def progress(sent: int, total: int) -> None:
        if not bars.live.is_started:  # shown only once packing succeeded and bytes flow
            bars.start()
            bars.start_task(task)
        bars.update(task, completed=sent, total=total)

    with connect(url, token, need_token=True) as client:
        try:
            result = client.publish(app_path, progress=progress)
        finally:
            bars.stop()
        ref, version = f"{result['owner']}/{result['name']}", result["version"]
        status = result.get("status", "building")
        if not no_wait:
            console.print(f"uploaded {ref} version {version}; building", markup=False)
            _follow_build(client, ref, version, timeout, console)
            status = "ready"
        page = result.get("url") or ""
        page = client.url + page if page.startswith("/") else page
    if as_json:
        print_json({**result, "status": status, "url": page or None})
    else:
        print(f"{ref} version {version} is {status}" + (f": {page}" if page else ""))


def _follow_build(client: Client, ref: str, version: int, timeout: float, console: Console) -> None:
    """Print the build log as it grows (whole lines, under a spinner); raise if it failed."""
    stream = client.stream_build_log(ref, version, timeout)
    partial = ""
    with console.status(f"building {ref} v{version}"):
        for chunk in stream:
            lines, _, partial = (partial + chunk).rpartition("\n")
            if lines:
                console.out(lines, highlight=False)
    if partial:
        console.out(partial, highlight=False)
    if stream.status == "failed":
        versions = client.model(ref).get("versions") or []
        entry: dict[str, Any] = next((v for v in versions if v.get("version") == version), {})
        reason = f": {entry['error']}" if entry.get("error") else ""
        raise BuildFailed(f"build of {ref} version {version} failed{reason}")  # log shown above
    if stream.status != "ready":  # a server that does not report the status with the log
        with console.status(f"building {ref} v{version}"):
            client.wait_ready(ref, version, timeout)


def models(url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """List the models on the platform."""
    with connect(url, token) as client:
        items = client.models()
    if as_json:
        print_json(items)
        return
    table = Table("model", "version", "status", "description")
    for m in items:
        table.add_row(Text(f"{m.get('owner')}/{m.get('name')}"), str(m.get("latest_version") or "-"),
                      Text(str(m.get("status") or "-")), Text(m.get("description") or ""))
    Console().print(table)


def _platform_module(command: str, module: str, args: list[str]) -> None:
    # find_spec on a top-level name locates the package without importing it.
    spec = importlib.util.find_spec("services")
    places = list(spec.submodule_search_locations or []) if spec else []
    if not any(os.path.isdir(os.path.join(p, "local")) for p in places):
        raise FeatherError(f"`feather {command}` needs the feather platform, which is not installed in this "
                           "environment: pip install feather-platform")
    os.execv(sys.executable, [sys.executable, "-m", module, *args])


def up(ctx: typer.Context) -> None:
    """Start the whole platform locally (runs `python -m services.local ARGS`)."""
    _platform_module("up", "services.local", ctx.args)


def dev(ctx: typer.Context) -> None:
    """Preview one model in the browser, reloading on save: `feather dev app.py [--port N]`."""
    _platform_module("dev", "services.local.dev", ctx.args)


from ._cli_manage import cancel, delete, deploy, init, logs, runs  # noqa: E402
from ._cli_run import run  # noqa: E402
from ._cli_admin import admin  # noqa: E402

# Registered here, in the order `feather --help` lists them.
for _command in (login, init, publish, run, runs, logs, cancel, models, deploy, delete):
    app.command()(_command)
for _command in (up, dev):
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(_command)
app.add_typer(admin)


def main() -> None:
    app(prog_name="feather")


if __name__ == "__main__":
    main()
