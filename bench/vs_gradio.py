"""feather against Gradio, on this machine, in one invocation, on the same inputs.

Gradio serves an echo function (`gr.Interface`, `concurrency_limit=None`) called over its REST
API as its clients call it: POST /gradio_api/call/echo (Gradio names the endpoint after the
function), then the result's Server-Sent Events.
feather serves examples/echo (the same function) called with `POST .../runs` and `Prefer: wait`.
Each system runs alone while it is measured: Gradio first, then feather.

Gradio is a benchmark-only dependency, in a venv of its own so it never enters the platform's:

    .venv/bin/uv venv bench/.venv-gradio
    .venv/bin/uv pip install --python bench/.venv-gradio/bin/python "gradio>=6,<7"
    .venv/bin/python bench/vs_gradio.py                  # feather polling its embedded broker
    .venv/bin/python bench/vs_gradio.py --broker-proxy   # feather behind services/local/broker_proxy.py
    .venv/bin/python bench/vs_gradio.py --both           # Gradio, then feather both ways, each alone

For each it prints sequential p50/p99 (300 runs), runs per second from 20 clients (1,000 runs),
the CPU milliseconds per run of all its processes (from /proc: Gradio's server; feather's broker,
services and workers) during the concurrent runs, and its CPU over 20 s idle; then the ratios.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import process_cpu  # noqa: E402
from run_latency import pct, publish_echo, started  # noqa: E402
from services.local.platform import free_port  # noqa: E402

GRADIO_PYTHON = HERE / ".venv-gradio" / "bin" / "python"
GRADIO_APP = """
import sys
import gradio as gr

def echo(text):
    return text

demo = gr.Interface(fn=echo, inputs=gr.Textbox(), outputs=gr.Textbox(), concurrency_limit=None)
demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[1]))
"""

Call = Callable[[httpx.AsyncClient, str], Awaitable[str]]


async def gradio_call(client: httpx.AsyncClient, text: str) -> str:
    started_call = await client.post("/gradio_api/call/echo", json={"data": [text]})
    event_id = started_call.json()["event_id"]
    event = ""
    async with client.stream("GET", f"/gradio_api/call/echo/{event_id}") as events:
        async for line in events.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "complete":
                return json.loads(line[5:])[0]
            elif line.startswith("data:") and event == "error":
                raise RuntimeError(f"gradio answered an error: {line}")
    raise RuntimeError("gradio's stream ended without a result")


def feather_call(ref: str) -> Call:
    async def call(client: httpx.AsyncClient, text: str) -> str:
        answer = await client.post(f"/v1/models/{ref}/runs", json={"inputs": {"text": text}}, headers={"Prefer": "wait"})
        run = answer.json()
        if run.get("status") != "succeeded":
            raise RuntimeError(f"run did not succeed: {run}")
        return run["outputs"]["text"]
    return call


async def measure(name: str, url: str, call: Call, roots: Callable[[], dict[str, int]],
                  args: argparse.Namespace) -> dict[str, float]:
    limits = httpx.Limits(max_connections=args.clients + 5)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        async def timed(text: str) -> float:
            start = time.perf_counter()
            got = await call(client, text)
            if got != text:
                raise RuntimeError(f"{name} answered {got!r} to {text!r}")
            return (time.perf_counter() - start) * 1000

        for i in range(20):  # warm connections, workers and caches
            await timed(f"warm-{i}")
        sequential = [await timed(f"seq-{i}") for i in range(args.sequential)]
        pending = iter(range(args.total))
        concurrent: list[float] = []

        async def client_loop() -> None:
            for i in pending:
                concurrent.append(await timed(f"conc-{i}"))

        cpu_before, start = sum(process_cpu.cpu_seconds(roots()).values()), time.perf_counter()
        await asyncio.gather(*(client_loop() for _ in range(args.clients)))
        wall = time.perf_counter() - start
        cpu_used = sum(process_cpu.cpu_seconds(roots()).values()) - cpu_before
    await asyncio.sleep(2.0)  # what the last runs left to do settles
    idle_before = process_cpu.cpu_seconds(roots())
    await asyncio.sleep(args.idle_s)
    idle_after = process_cpu.cpu_seconds(roots())
    idle = {proc: idle_after[proc] - idle_before.get(proc, 0.0) for proc in idle_after}
    figures = {"p50": pct(sequential, 50), "p99": pct(sequential, 99), "rps": len(concurrent) / wall,
               "cpu_ms": cpu_used / len(concurrent) * 1000, "idle": sum(idle.values()) / args.idle_s}
    busiest = ", ".join(f"{proc} {cpu / args.idle_s:.3f}" for proc, cpu in sorted(idle.items(), key=lambda x: -x[1])[:3])
    print(f"{name}: sequential p50 {figures['p50']:.2f} ms, p99 {figures['p99']:.2f} ms; "
          f"{args.clients} clients {figures['rps']:.1f} runs/s; CPU per run {figures['cpu_ms']:.2f} ms; "
          f"idle {figures['idle']:.3f} of a core ({busiest})")
    return figures


def run_gradio(args: argparse.Namespace) -> dict[str, float]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="gradio-bench-") as tmp:
        app = Path(tmp) / "echo_app.py"
        app.write_text(GRADIO_APP)
        env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": tmp, "HF_HUB_OFFLINE": "1"}
        server = subprocess.Popen([str(args.gradio_python), str(app), str(port)], env=env, cwd=tmp,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/gradio_api/info", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gradio did not start (exit code {server.poll()})")
                time.sleep(0.2)
            return asyncio.run(measure("gradio", f"http://127.0.0.1:{port}", gradio_call,
                                       lambda: {"gradio": server.pid}, args))
        finally:
            server.terminate()
            server.wait(20)


def run_feather(args: argparse.Namespace, broker_proxy: bool) -> dict[str, float]:
    with started({}, broker_proxy=broker_proxy) as platform:
        ref = publish_echo(platform.gateway_url, platform.admin_token)
        label = "feather" + (" (broker proxy)" if broker_proxy else "")
        return asyncio.run(measure(label, platform.gateway_url, feather_call(ref),
                                   lambda: {name: proc.pid for name, proc in platform.procs.items()}, args))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gradio-python", type=Path, default=GRADIO_PYTHON)
    parser.add_argument("--sequential", type=int, default=300)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--total", type=int, default=1000)
    parser.add_argument("--idle-s", type=float, default=20.0)
    parser.add_argument("--broker-proxy", action="store_true", help="feather behind services/local/broker_proxy.py")
    parser.add_argument("--both", action="store_true", help="feather polling its broker, then behind the proxy")
    args = parser.parse_args()
    if not args.gradio_python.exists():
        print(f"error: no Gradio at {args.gradio_python}; make it as this file's docstring says", file=sys.stderr)
        return 2
    gradio = run_gradio(args)
    ways = [False, True] if args.both else [args.broker_proxy]
    feathers = {("feather, proxy" if proxy else "feather"): run_feather(args, proxy) for proxy in ways}
    print(f"\n{'':26}{'gradio':>10}" + "".join(f"{name:>16}{'/ gradio':>10}" for name in feathers))
    for key, what in (("p50", "sequential p50 (ms)"), ("p99", "sequential p99 (ms)"),
                      ("rps", f"runs/s, {args.clients} clients"), ("cpu_ms", "CPU per run (ms)"),
                      ("idle", "idle, of a core")):
        print(f"{what:26}{gradio[key]:10.3f}" + "".join(
            f"{figures[key]:16.3f}{figures[key] / gradio[key] if gradio[key] else float('inf'):10.2f}"
            for figures in feathers.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
