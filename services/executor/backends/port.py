"""The execution backend port: run one step of one version, get its outcome."""
from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

ProgressCallback = Callable[[float | None, str], None]
OutputCallback = Callable[[dict[str, Any]], None]  # a generator step's outputs so far


@dataclass(frozen=True)
class StepCall:
    run_id: str
    model_id: str
    version: int
    step: str
    inputs: dict[str, Any]
    runtime: dict[str, Any]
    deadline_s: float
    on_progress: ProgressCallback | None = None
    on_output: OutputCallback | None = None


@dataclass(frozen=True)
class StepOutcome:
    status: str  # succeeded | failed | timed_out | canceled
    outputs: dict[str, Any] | None = None
    error: str | None = None
    logs: str = ""
    predict_ms: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


class Backend(abc.ABC):
    @abc.abstractmethod
    async def run(self, call: StepCall) -> StepOutcome: ...

    async def run_batch(self, calls: Sequence[StepCall]) -> list[StepOutcome]:
        """Several runs of one batch step of one version, one outcome each, in order. Backends
        that cannot hand a worker several runs at once run each alone (a batch step given one
        run is called with lists of one)."""
        answers = await asyncio.gather(*(self.run(call) for call in calls), return_exceptions=True)
        for answer in answers:
            if isinstance(answer, BaseException) and not isinstance(answer, Exception):
                raise answer  # canceled, or shutting down
        # one run's failure to run is its own: the others keep their outcomes
        return [StepOutcome("failed", error=f"internal error: {a}") if isinstance(a, Exception) else a
                for a in answers]

    async def prestart(self, model_id: str, version: int, runtime: dict[str, Any]) -> None:
        """Make a newly built version ready to serve its first run sooner; backends with nothing
        to warm do nothing."""
        return None

    def workers(self) -> dict[str, int]:
        """Warm workers by state (idle, busy), for metrics; backends without workers have none."""
        return {}

    async def close(self) -> None:
        return None
