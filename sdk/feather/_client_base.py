"""What the sync and async clients share: requests described as data, and error mapping.

Each API operation is a generator ("flow") that yields `Call`, `Sleep` or `Emit` and
receives HTTP responses back. `Client` drives flows with httpx.Client and time.sleep,
`AsyncClient` with httpx.AsyncClient and asyncio.sleep, so polling, pagination, input
checks and uploads are written once and behave the same in both.
"""
from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx

from ._errors import FeatherError, InvalidInput, NotFound, RunFailed, RunTimedOut, Unauthorized

if TYPE_CHECKING:
    from ._client_run import Run
    Drive = Callable[["Flow[Any]"], Any]  # a client's driver: the value, or an awaitable of it

TERMINAL = frozenset({"succeeded", "failed", "canceled", "timed_out"})
T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # relative to the client's base URL, or absolute
    params: dict[str, Any] | None = None
    json: Any = None
    headers: dict[str, str] | None = None
    files: dict[str, Any] | None = None
    chunks: Sequence[bytes] | None = None  # a body streamed piece by piece, with `progress`
    progress: Callable[[int, int], None] | None = None
    timeout: float | None = None
    anonymous: bool = False  # a link to another host: our token must not travel there


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Emit:
    """A value handed to whoever iterates the flow (a log chunk, a run snapshot)."""
    value: Any


Op = Call | Sleep | Emit
Flow = Generator[Op, Any, T]


class Core:
    """State both clients keep: where the platform is, the manifests seen so far, and how the
    client that owns it makes runs (``run_class``) and drives flows (``drive``), so that a run
    can fetch its files through the client that returned it."""

    def __init__(self, url: str, timeout: float, validate: bool, *, run_class: type[Run],
                 drive: Drive) -> None:
        self.url, self.timeout, self.validate = url, timeout, validate
        self.models: dict[str, dict[str, Any]] = {}  # ref -> GET /v1/models/{ref} answer
        self.run_class, self.drive = run_class, drive

    def run(self, data: dict[str, Any]) -> Run:
        run = self.run_class.from_dict(data)
        run._core = self
        return run


def fetch_model(core: Core, ref: str) -> Flow[dict[str, Any]]:
    resp = yield Call("GET", model_path(ref))
    info: dict[str, Any] = resp.json()
    core.models[ref] = info  # every fetch refreshes what input checks compare against
    return info


def default_headers(token: str | None) -> dict[str, str]:
    from . import __version__
    headers = {"User-Agent": f"feather-python/{__version__}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def deadline_after(timeout: float | None) -> float | None:
    """The monotonic time a wait of ``timeout`` seconds ends at; None waits for ever."""
    return None if timeout is None else time.monotonic() + timeout


def split_ref(ref: str, version: int | None = None) -> tuple[str, int | None]:
    """``owner/name:3`` as ``("owner/name", 3)``; a ``version`` given apart must agree."""
    base, colon, number = ref.rpartition(":") if ":" in ref else (ref, "", "")
    if not colon:
        return ref, version
    if not number.isdigit() or int(number) < 1:
        raise InvalidInput(f"model reference must look like owner/name or owner/name:VERSION, got {ref!r}",
                           field="ref")
    if version is not None and version != int(number):
        raise InvalidInput(f"{ref} names version {number}, and version={version} another", field="version")
    return base, int(number)


def model_path(ref: str) -> str:
    owner, _, name = ref.partition("/")
    if not owner or not name or "/" in name:
        raise InvalidInput(f"model reference must look like owner/name, got {ref!r}", field="ref")
    return f"/v1/models/{quote(owner, safe='')}/{quote(name, safe='')}"


def run_path(run_id: str) -> str:
    if not run_id:
        raise InvalidInput("run id must not be empty", field="run_id")
    return f"/v1/runs/{quote(run_id, safe='')}"


R = TypeVar("R", bound="Run")


def check(run: R) -> R:
    """The run itself when it succeeded; otherwise the error its status stands for."""
    if run.status == "failed":
        raise RunFailed(run.error or "the run failed without an error message", run)
    if run.status == "canceled":
        raise RunFailed(run.error or "the run was canceled", run)
    if run.status == "timed_out":
        raise RunTimedOut(run.error or "the run timed out on the server", run)
    return run


def transport_error(url: str, exc: httpx.TransportError) -> FeatherError:
    if isinstance(exc, httpx.TimeoutException):
        return FeatherError(f"request to {url} timed out ({type(exc).__name__})")
    return FeatherError(f"cannot reach feather at {url}: {exc}")


def error_for(resp: httpx.Response) -> FeatherError:
    code = resp.status_code
    try:
        body = resp.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    if code == 422 and isinstance(detail, list) and detail:
        problems = [d for d in detail if isinstance(d, dict)]
        fields = [str(d["loc"][-1]) for d in problems if d.get("loc")]
        # Name the input when the error is about one; "inputs"/"body" mean the whole object.
        text = "; ".join(
            (f"input {d['loc'][-1]!r}: " if d.get("loc") and d["loc"][-1] not in ("body", "inputs")
             else "") + str(d.get("msg", d)) for d in problems) or str(detail)
        return InvalidInput(f"invalid input: {text}", field=fields[0] if fields else None,
                            status_code=code)
    text = detail if isinstance(detail, str) else (str(detail) if detail is not None
                                                   else resp.text.strip()[:500] or resp.reason_phrase)
    if code in (401, 403):
        hint = " (run `feather login` or set FEATHER_TOKEN)" if code == 401 else ""
        return Unauthorized(f"unauthorized: {text}{hint}", status_code=code)
    if code == 404:
        return NotFound(f"not found: {text}", status_code=code)
    if code == 422:
        return InvalidInput(f"invalid input: {text}", status_code=code)
    return FeatherError(f"feather answered {code}: {text}", status_code=code)


def iter_chunks(call: Call) -> Iterator[bytes]:
    """A streamed body for httpx.Client, reporting progress(sent, total) after each piece."""
    chunks = call.chunks or ()
    total, sent = sum(map(len, chunks)), 0
    for piece in chunks:
        yield piece
        sent += len(piece)
        if call.progress:
            call.progress(sent, total)


async def aiter_chunks(call: Call) -> AsyncIterator[bytes]:
    """`iter_chunks` for httpx.AsyncClient, which only streams async iterables."""
    for piece in iter_chunks(call):
        yield piece


def request_args(call: Call) -> dict[str, Any]:
    """httpx build_request keywords for `call`, less the body stream each driver adds."""
    args: dict[str, Any] = {"params": call.params, "json": call.json, "headers": call.headers,
                            "files": call.files}
    if call.timeout is not None:  # None would mean "no timeout" to httpx, not "the default"
        args["timeout"] = call.timeout
    return args
