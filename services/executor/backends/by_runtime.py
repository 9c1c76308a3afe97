"""Routes each call to the backend its runtime was built for (``runtime["backend"]``)."""
from __future__ import annotations

from services.executor.backends.port import Backend, StepCall, StepOutcome


class ByRuntime(Backend):
    def __init__(self, backends: dict[str, Backend]) -> None:
        self.backends = backends

    async def run(self, call: StepCall) -> StepOutcome:
        kind = call.runtime.get("backend", "local")
        backend = self.backends.get(kind)
        if backend is None:
            return StepOutcome("failed", error=f"this executor cannot run {kind!r} runtimes")
        return await backend.run(call)

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
