"""Routes each call to the backend its runtime was built for (``runtime["backend"]``)."""
from __future__ import annotations

from collections.abc import Sequence

from services.executor.backends.port import Backend, StepCall, StepOutcome


class ByRuntime(Backend):
    def __init__(self, backends: dict[str, Backend]) -> None:
        self.backends = backends

    def _of(self, call: StepCall) -> Backend | StepOutcome:
        kind = call.runtime.get("backend", "local")
        return self.backends.get(kind) or StepOutcome("failed", error=f"this executor cannot run {kind!r} runtimes")

    async def run(self, call: StepCall) -> StepOutcome:
        backend = self._of(call)
        return backend if isinstance(backend, StepOutcome) else await backend.run(call)

    async def run_batch(self, calls: Sequence[StepCall]) -> list[StepOutcome]:
        backend = self._of(calls[0])  # one batch is of one version, so of one runtime
        return [backend] * len(calls) if isinstance(backend, StepOutcome) else await backend.run_batch(calls)

    async def prestart(self, model_id: str, version: int, runtime: dict) -> None:
        backend = self.backends.get(runtime.get("backend", "local"))
        if backend is not None:
            await backend.prestart(model_id, version, runtime)

    def workers(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for backend in self.backends.values():
            for state, n in backend.workers().items():
                counts[state] = counts.get(state, 0) + n
        return counts

    async def close(self) -> None:
        for backend in self.backends.values():
            await backend.close()
