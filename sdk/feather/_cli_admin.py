"""`feather admin`: what an operator needs when events stop flowing (the platform's admin token).

`outbox list|replay` shows and re-sends records a service could not publish (parked);
`dlq list|replay` shows and re-drives messages a consumer gave up on.
"""
from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from . import _config
from ._cli_common import JsonOpt, TokenOpt, UrlOpt, print_json
from ._errors import FeatherError, InvalidInput

admin = typer.Typer(name="admin", help="Operator commands (need the platform's admin token).",
                    no_args_is_help=True)
outbox = typer.Typer(name="outbox", help="Outbox records a service parked because they could not be published.",
                     no_args_is_help=True)
dlq = typer.Typer(name="dlq", help="Messages a consumer gave up on (dead letters).", no_args_is_help=True)
admin.add_typer(outbox)
admin.add_typer(dlq)
SERVICES = ("gateway", "registry", "builder", "executor", "telemetry")


def _call(url: str | None, token: str | None, method: str, path: str, **kwargs: Any) -> Any:
    base, token = _config.resolve(url, token)
    if not token:
        raise InvalidInput("admin commands need the platform's admin token: --token or FEATHER_TOKEN")
    try:
        answer = httpx.request(method, f"{base}{path}", headers={"Authorization": f"Bearer {token}"},
                               timeout=30, **kwargs)
    except httpx.HTTPError as exc:
        raise FeatherError(f"cannot reach {base}: {exc}") from None
    if answer.status_code >= 400:
        try:
            detail = answer.json().get("detail")
        except ValueError:
            detail = answer.text[:200]
        raise FeatherError(f"{method} {path} answered {answer.status_code}: {detail}")
    return answer.json()


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    Console(highlight=False).print(table)


ServiceOpt = Annotated[str | None, typer.Option("--service", help=f"One of {', '.join(SERVICES)} (default: all).")]


@outbox.command("list")
def outbox_list(service: ServiceOpt = None, url: UrlOpt = None, token: TokenOpt = None,
                as_json: JsonOpt = False) -> None:
    """Parked outbox records, per service."""
    if service is not None and service not in SERVICES:
        raise InvalidInput(f"--service must be one of {', '.join(SERVICES)}, got {service!r}", field="service")
    page = _call(url, token, "GET", "/v1/admin/outbox", params={"service": service} if service else None)
    if as_json:
        print_json(page)
        return
    _table(f"{len(page['items'])} parked", ["service", "seq", "topic", "type", "bytes", "parked at", "reason"],
           [[i["service"], i["seq"], i["topic"], i["type"], i["bytes"], i["parked_at"], i["reason"]]
            for i in page["items"]])
    for name in page.get("unreachable", []):
        Console(stderr=True, highlight=False).print(f"note: {name} did not answer")


@outbox.command("replay")
def outbox_replay(service: Annotated[str, typer.Argument(help=f"One of {', '.join(SERVICES)}.")],
                  seqs: Annotated[list[int] | None, typer.Argument(help="Record seqs (default: --all).")] = None,
                  all_: Annotated[bool, typer.Option("--all", help="Every parked record of the service.")] = False,
                  url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Put parked records back in the service's outbox, to be published again."""
    if service not in SERVICES:
        raise InvalidInput(f"service must be one of {', '.join(SERVICES)}, got {service!r}", field="service")
    if not seqs and not all_:
        raise InvalidInput("name the records to replay, or pass --all", field="seqs")
    done = _call(url, token, "POST", "/v1/admin/outbox/replay",
                 json={"service": service, "seqs": seqs or [], "all": all_})
    print_json(done) if as_json else print(f"{done['replayed']} record(s) of {service} back in its outbox")


@dlq.command("list")
def dlq_list(url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Dead letters, with the error and where each came from."""
    page = _call(url, token, "GET", "/v1/admin/dlq")
    if as_json:
        print_json(page)
        return
    _table(f"{len(page['items'])} dead letter(s)", ["id", "from", "group", "type", "replayed", "error"],
           [[i["id"], i["origin"], i["group"], i["type"], i["replayed_at"] or "", i["error"]] for i in page["items"]])


@dlq.command("replay")
def dlq_replay(ids: Annotated[list[str] | None, typer.Argument(help="Letter ids (default: --all).")] = None,
               all_: Annotated[bool, typer.Option("--all", help="Every letter not replayed before.")] = False,
               url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Send dead letters back to the topic they came from."""
    if not ids and not all_:
        raise InvalidInput("name the letters to replay, or pass --all", field="ids")
    done = _call(url, token, "POST", "/v1/admin/dlq/replay", json={"ids": ids or [], "all": all_})
    print_json(done) if as_json else print(f"{done['replayed']} dead letter(s) sent back")
