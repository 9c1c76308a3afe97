"""The executor's own costs, measured without the bus or HTTP in the way.

    python bench/executor.py

Prints: warm overhead per run (dispatch to a sandboxed worker and back, minus the model's own
time) p50/p99; cold start (first run on a new version: start the sandboxed worker, import the
model and numpy, answer) for a numpy model; runs per second for a trivial model on this machine;
and the rebuild time of an environment whose requirements did not change.
"""
from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.builder.local_env import LocalEnvironments, unpack_code  # noqa: E402
from services.builder.domain import env_key  # noqa: E402
from services.executor.backends.local import LocalBackend, PoolConfig  # noqa: E402
from services.executor.backends.port import StepCall  # noqa: E402
from services.executor.sandbox import Limits, Sandbox  # noqa: E402
from services.kit.blobs.local import LocalBlobStore  # noqa: E402

from feather._bundle import pack  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def runtime_for(root: Path, app: Path, envs: LocalEnvironments, requirements: list[str]) -> dict:
    code = root / "code" / app.parent.name
    unpack_code(pack(str(app)), code)
    locked = await envs.lock(requirements, "3.11", lambda _: None)
    env = await envs.ensure(env_key(locked.splitlines(), "3.11"), locked, "3.11", lambda _: None)
    return {"backend": "local", "python": str(env.python), "env_dir": str(env.path), "app_dir": str(code),
            "interpreter": env.interpreter}


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="feather-bench-") as tmp:
        root = Path(tmp)
        envs = LocalEnvironments(root, timeout_s=600)
        sandbox = Sandbox(root / "sandbox", Limits(), forbidden=[root / "blobs"])
        health = sandbox.health()
        if not health.get("ready"):
            raise SystemExit(f"the sandbox cannot run here: {health.get('problem')}")
        print(f"sandbox: bubblewrap as {health['isolation']} (uid {health['worker_uid']}), seccomp, "
              f"limits by {health['limits']['mechanism']} ({', '.join(health['limits']['enforced'])})")
        backend = LocalBackend(LocalBlobStore(str(root / "blobs")), sandbox, PoolConfig(max_workers=2))
        echo = await runtime_for(root, ROOT / "examples" / "echo" / "app.py", envs, [])

        def call(i: int, runtime: dict, model: str) -> StepCall:
            return StepCall(f"r{i}", model, 1, "echo", {"text": f"t{i}"}, runtime, 60.0)

        await backend.run(call(0, echo, "echo"))  # warm
        overhead = []
        for i in range(1, 1001):
            start = time.perf_counter()
            outcome = await backend.run(call(i, echo, "echo"))
            overhead.append((time.perf_counter() - start) * 1000 - outcome.predict_ms)
        print(f"warm overhead: p50 {pct(overhead, 50):.3f} ms  p99 {pct(overhead, 99):.3f} ms  "
              f"(1000 sequential runs, model time subtracted)")

        start = time.perf_counter()
        outcomes = await asyncio.gather(*(backend.run(call(i, echo, "echo")) for i in range(2000)))
        wall = time.perf_counter() - start
        assert all(o.status == "succeeded" for o in outcomes)
        print(f"throughput: {len(outcomes) / wall:.0f} runs/s (trivial model, 2 workers, 2000 runs at once)")

        numpy_app = ROOT / "bench" / "models" / "numpy-echo" / "app.py"
        numpy_rt = await runtime_for(root, numpy_app, envs, ["numpy>=2"])
        colds = []
        for version in range(1, 6):
            start = time.perf_counter()
            outcome = await backend.run(StepCall(f"c{version}", "numpy-echo", version, "echo", {"text": "x"},
                                                 numpy_rt, 60.0))
            colds.append((time.perf_counter() - start) * 1000)
            assert outcome.status == "succeeded", outcome
        print(f"cold start (numpy model, new worker each time): median {statistics.median(colds):.0f} ms  "
              f"max {max(colds):.0f} ms")

        start = time.perf_counter()
        await runtime_for(root, numpy_app, envs, ["numpy>=2"])
        print(f"rebuild with unchanged requirements (lock + reuse): {(time.perf_counter() - start) * 1000:.0f} ms")
        await backend.close()


if __name__ == "__main__":
    asyncio.run(main())
