"""What every `feather` command shares: the app, one-line errors, options, the client.

Every failure ends as one `error: ...` line on stderr: exit 2 for bad usage or
input, 1 for anything else. Tracebacks are kept for real bugs only.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from . import _config
from ._client import Client, Run
from ._errors import BuildFailed, DefinitionError, FeatherError, InvalidInput, RunFailed

try:  # recent typer vendors click; older releases use the click package
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import NoArgsIsHelpError, UsageError  # type: ignore[assignment,no-redef]

__all__ = ["Client", "app", "connect", "err", "fail", "print_json", "run_dict"]
LOGIN_HINT = "not logged in: run feather login --url URL --token TOKEN"


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
            code = fail(exc.format_message(), 2)
        except typer.Abort:
            code = fail("aborted", 1)
        except BuildFailed as exc:
            if exc.log:
                sys.stderr.write(exc.log.rstrip("\n") + "\n")
            code = fail(exc.message, 1)
        except RunFailed as exc:
            code = fail(f"run failed: {exc.message}", 1)
        except (DefinitionError, InvalidInput) as exc:
            code = fail(exc.message, 2)
        except FeatherError as exc:
            code = fail(exc.message, 1)
        sys.exit(code if isinstance(code, int) else 0)


def fail(message: str, code: int) -> int:
    sys.stderr.write("error: " + " ".join(str(message).split()) + "\n")
    return code


app = typer.Typer(cls=_Group, name="feather", help="Share and serve ML models.",
                  add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)

UrlOpt = Annotated[str | None, typer.Option(
    "--url", help="Platform URL (default: FEATHER_URL, then `feather login`).")]
TokenOpt = Annotated[str | None, typer.Option(
    "--token", help="API token (default: FEATHER_TOKEN, then `feather login`).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
RefArg = Annotated[str, typer.Argument(metavar="OWNER/NAME", help="The model.")]


def err() -> Console:
    return Console(stderr=True, highlight=False)


def connect(url: str | None, token: str | None, *, need_token: bool = False) -> Client:
    """A client for the resolved URL and token; commands that act as someone need the token."""
    url, token = _config.resolve(url, token)
    if need_token and not token:
        raise InvalidInput(LOGIN_HINT)
    return Client(url, token)


def run_dict(run: Run) -> dict[str, Any]:
    return dataclasses.asdict(run)


def print_json(data: Any) -> None:
    print(json.dumps(data))
