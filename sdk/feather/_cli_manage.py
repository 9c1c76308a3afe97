"""`feather init`, `runs`, `logs`, `cancel` and `delete`."""
from __future__ import annotations

import re
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ._cli_common import JsonOpt, RefArg, TokenOpt, UrlOpt, connect, err, print_json, run_dict
from ._errors import FeatherError, InvalidInput

# The platform's rule for model names (feather.Model checks the same).
_MODEL_NAME = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
TEMPLATE_FILES = ("app.py", "requirements.txt", "README.md")


def init(name: Annotated[str, typer.Argument(help="Model name: lowercase letters, digits, '-'.")],
         folder: Annotated[Path | None, typer.Argument(
             metavar="[DIR]", help="Where to create it (default: ./NAME).")] = None,
         as_json: JsonOpt = False) -> None:
    """Create a model folder (app.py with one step, requirements.txt, README.md)."""
    if not _MODEL_NAME.fullmatch(name):
        raise InvalidInput(f"model name must be lowercase letters, digits and '-', starting "
                           f"with a letter (at most 64), got {name!r}", field="name")
    target = folder if folder is not None else Path(name)
    taken = [str(target / f) for f in TEMPLATE_FILES if (target / f).exists()]
    if taken:
        raise FeatherError(f"{taken[0]} already exists; init never overwrites files")
    templates = resources.files("feather") / "templates"
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for file in TEMPLATE_FILES:
        text = (templates / f"{file}.tmpl").read_text(encoding="utf-8")
        (target / file).write_text(text.replace("{{name}}", name), encoding="utf-8")
        written.append(str(target / file))
    if as_json:
        print_json({"name": name, "dir": str(target), "files": written})
        return
    for path in written:
        print(path)
    err().print(f"next: feather publish {target}", markup=False)


def runs(model: Annotated[str | None, typer.Option(
             "--model", metavar="OWNER/NAME", help="Only this model's runs.")] = None,
         limit: Annotated[int, typer.Option("--limit", help="How many, newest first.")] = 20,
         url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """List your recent runs."""
    with connect(url, token, need_token=True) as client:
        found = client.runs(model, limit=limit)
    if as_json:
        print_json([run_dict(r) for r in found])
        return
    table = Table("run", "model", "step", "status", "created", "total ms")
    for r in found:
        total = r.metrics.get("total_ms")
        table.add_row(Text(r.id), Text(f"{r.model} v{r.version}"), Text(r.step or "-"),
                      Text(r.status), Text(r.created_at or "-"),
                      "-" if total is None else f"{total:.0f}")
    Console().print(table)


def logs(run_id: Annotated[str | None, typer.Argument(metavar="[RUN_ID]", help="The run.")] = None,
         build: Annotated[str | None, typer.Option(
             "--build", metavar="OWNER/NAME", help="Show a build log instead of a run's.")] = None,
         version: Annotated[int | None, typer.Option(
             "--version", help="Version whose build log to show (default: latest).")] = None,
         follow: Annotated[bool, typer.Option(
             "--follow", "-f", help="Keep printing the build log until the build ends.")] = False,
         url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Print a run's logs and traceback, or with --build a version's build log."""
    if (run_id is None) == (build is None):
        raise InvalidInput("give either a RUN_ID or --build OWNER/NAME")
    if build is None:
        with connect(url, token, need_token=True) as client:
            found = client.get_run(run_id or "")
        if as_json:
            print_json({k: getattr(found, k) for k in ("id", "status", "error", "logs", "traceback")})
            return
        if found.logs is None and found.traceback is None:
            err().print("no logs: only the model's owner sees a run's logs", markup=False)
        sys.stdout.write((found.logs or "") + (found.traceback or ""))
        return
    with connect(url, token) as client:
        number = version if version is not None else client.model(build).get("latest_version")
        if not isinstance(number, int):
            raise FeatherError(f"{build} has no version yet")
        if follow and not as_json:
            stream = client.stream_build_log(build, number)
            for chunk in stream:
                sys.stdout.write(chunk)
                sys.stdout.flush()
            text, status = "", stream.status
        else:
            text, status = client.build_log(build, number)
    if as_json:
        print_json({"model": build, "version": number, "status": status, "log": text})
        return
    sys.stdout.write(text)
    err().print(f"build status: {status or 'unknown'}", markup=False)


def cancel(run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The run to cancel.")],
           url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Cancel a queued or running run."""
    with connect(url, token) as client:
        found = client.cancel(run_id)
    if as_json:
        print_json(run_dict(found))
    else:
        print(f"run {found.id}: cancel requested (status: {found.status})")


def delete(ref: RefArg,
           yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
           url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Delete a model you own, with all its versions."""
    with connect(url, token, need_token=True) as client:
        if not yes:
            if not sys.stdin.isatty():
                raise InvalidInput(f"deleting {ref} needs --yes when not asked on a terminal")
            typer.confirm(f"delete {ref} and all its versions?", abort=True, err=True)
        client.delete(ref)
    if as_json:
        print_json({"deleted": ref})
    else:
        print(f"deleted {ref}")


def deploy(ref: Annotated[str, typer.Argument(metavar="OWNER/NAME[:VERSION]", help="The model, and the version to serve.")],
           version: Annotated[int | None, typer.Option("--version", min=1, help="The version to serve (roll back by "
                                                        "naming an older one).")] = None,
           follow: Annotated[str | None, typer.Option("--follow", help="latest: a version published later serves "
                                                        "once ready; pinned: this one stays.")] = None,
           url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Choose which version of a model you own serves it when a run names none."""
    if follow not in (None, "latest", "pinned"):
        raise InvalidInput(f"--follow must be latest or pinned, got {follow!r}", field="follow")
    with connect(url, token, need_token=True) as client:
        deployment = client.deploy(ref, version, follow=follow)
    if as_json:
        print_json(deployment)
        return
    name = ref.split(":")[0]
    previous = f" (was v{deployment['previous']})" if deployment.get("previous") else ""
    print(f"{name} serves v{deployment['version']}{previous}; follows {deployment['follow']}")
