"""`Run` and `AsyncRun`: one run as the platform reports it, with its outputs decodable into
Python values through the client that returned it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ._client_base import TERMINAL, Core
from ._client_files import decode_output, drive_offline
from ._errors import FeatherError


@dataclass
class Run:
    """One run; `outputs` is the raw JSON, `value(name)` the Python value (files as bytes/PIL).

    `metrics` has queue_ms, predict_ms, total_ms; `progress` is {"fraction", "message"} while
    the run reports it; `steps` lists each step's outputs for a chain; `logs` and `traceback`
    are shown to the model's owner only.
    """

    id: str
    model: str
    version: int | None
    status: str
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] | None = None
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None
    completed_at: str | None = None
    step: str | None = None
    progress: dict[str, Any] | None = None
    steps: list[dict[str, Any]] | None = None
    logs: str | None = None
    traceback: str | None = None
    urls: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Plain attributes, not fields: equality, repr and dataclasses.asdict ignore them.
        self._core: Core | None = None  # the client that returned this run fetches its files
        self._files: dict[str, bytes] = {}  # downloads kept, so decoding twice fetches once

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Run:
        return cls(id=data["id"], model=data.get("model", ""), version=data.get("version"),
                   status=data.get("status", ""), inputs=data.get("inputs") or {},
                   outputs=data.get("outputs"), error=data.get("error"),
                   metrics=data.get("metrics") or {}, created_at=data.get("created_at"),
                   completed_at=data.get("completed_at"), step=data.get("step"),
                   progress=data.get("progress"), steps=data.get("steps"),
                   logs=data.get("logs"), traceback=data.get("traceback"),
                   urls=data.get("urls") or {})

    @property
    def token(self) -> str | None:
        """The run's read token, when it was made without an account (it rides in its URL)."""
        found = parse_qs(urlsplit(self.urls.get("get", "")).query).get("token")
        return found[0] if found else None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def value(self, name: str) -> Any:
        """Output `name` as a Python value: files become bytes, images PIL images if installed."""
        drive = self._core.drive if self._core is not None else drive_offline
        return drive(decode_output(self, name))  # a run built by hand decodes data: URLs only

    def decoded(self) -> dict[str, Any]:
        """Every output as `value(name)` returns it."""
        return {name: self.value(name) for name in self.outputs or {}}

    async def avalue(self, name: str) -> Any:
        """`value(name)`, for code written for either client."""
        return self.value(name)

    async def adecoded(self) -> dict[str, Any]:
        return {name: await self.avalue(name) for name in self.outputs or {}}


@dataclass
class AsyncRun(Run):
    """A run an AsyncClient returned: its files are fetched with `await run.avalue(name)`."""

    def value(self, name: str) -> Any:
        if self._core is None:
            return super().value(name)
        raise FeatherError("this run came from an AsyncClient: use `await run.avalue(name)` "
                           "or `await run.adecoded()`")

    async def avalue(self, name: str) -> Any:
        if self._core is None:
            return super().value(name)
        return await self._core.drive(decode_output(self, name))
