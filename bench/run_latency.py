"""End-to-end latency of a warm sync run through the gateway, alone and under 20 concurrent clients.

    python bench/run_latency.py                      # starts its own platform in a temp folder
    python bench/run_latency.py --url URL --token T  # measures a running platform
    python bench/run_latency.py --tracing            # a platform without traces and one with them
                                                     # (OTLP to a local sink), measured in
                                                     # alternating rounds: the overhead of tracing

Prints p50/p99 of the whole HTTP call (POST with `Prefer: wait`), the model's own time
(predict_ms), the platform's share, and runs per second; and checks that every run came back.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import feather  # noqa: E402
import process_cpu  # noqa: E402
from services.local.platform import LocalPlatform  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


async def one(client: httpx.AsyncClient, ref: str, text: str,
              inputs_of: Callable[[str], dict] = lambda text: {"text": text}) -> tuple[float, dict]:
    """One sync run, its inputs made from ``text``; its latency in ms and the run."""
    start = time.perf_counter()
    answer = await client.post(f"/v1/models/{ref}/runs", json={"inputs": inputs_of(text)},
                               headers={"Prefer": "wait"})
    elapsed = (time.perf_counter() - start) * 1000
    return elapsed, answer.json()


def report(title: str, results: list[tuple[float, dict]], wall_s: float) -> dict[str, float]:
    latencies = [ms for ms, _ in results]
    predict = [run["metrics"]["predict_ms"] or 0.0 for _, run in results]
    ok = sum(1 for _, run in results if run["status"] == "succeeded")
    print(f"{title}: {len(results)} runs, {ok} succeeded, {len(results) - ok} not")
    print(f"  latency  p50 {pct(latencies, 50):7.2f} ms   p99 {pct(latencies, 99):7.2f} ms   "
          f"mean {statistics.fmean(latencies):7.2f} ms")
    print(f"  model    p50 {pct(predict, 50):7.3f} ms (predict_ms, the model's own time)")
    print(f"  platform p50 {pct(latencies, 50) - pct(predict, 50):7.2f} ms (latency minus model time)")
    print(f"  throughput {len(results) / wall_s:7.1f} runs/s")
    return {"p50": pct(latencies, 50), "throughput": len(results) / wall_s}


def publish(url: str, token: str, app: Path) -> str:
    """Publish ``app`` and wait for its build; its ``owner/name``."""
    with feather.Client(url, token=token) as sync_client:
        published = sync_client.publish(str(app))
        ref = f"{published['owner']}/{published['name']}"
        sync_client.wait_ready(ref, published["version"], timeout=600)
    return ref


def publish_echo(url: str, token: str) -> str:
    return publish(url, token, ROOT / "examples" / "echo" / "app.py")


async def concurrently(client: httpx.AsyncClient, ref: str, clients: int, total: int, label: str,
                       inputs_of: Callable[[str], dict] = lambda text: {"text": text}) -> list[tuple[float, dict]]:
    """``total`` runs sent by ``clients`` clients, each sending its next once the last came back."""
    pending = iter(range(total))
    results: list[tuple[float, dict]] = []

    async def worker() -> None:
        for i in pending:
            results.append(await one(client, ref, f"{label}-{i}", inputs_of))

    await asyncio.gather(*(worker() for _ in range(clients)))
    return results


async def account(client: httpx.AsyncClient, results: list[tuple[float, dict]]) -> int:
    """Whether every run came back and ended; 0 if so."""
    ids = {run["id"] for _, run in results}
    # each run read through its own URL: these runs are anonymous, and it holds their token
    final = [(await client.get(run["urls"]["get"])).json()["status"] for _, run in results]
    lost = len(results) - len(ids)
    stuck = sum(1 for s in final if s not in ("succeeded", "failed", "canceled", "timed_out"))
    print(f"  accounted for: {len(ids)}/{len(results)} runs, lost {lost}, not terminal {stuck}")
    return 0 if lost == 0 and stuck == 0 else 1


async def measure(url: str, token: str, sequential: int, clients: int, total: int) -> int:
    ref = publish_echo(url, token)
    limits = httpx.Limits(max_connections=clients + 5)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        for i in range(20):  # warm the workers and the connections
            await one(client, ref, f"warm-{i}")
        start = time.perf_counter()
        seq = [await one(client, ref, f"seq-{i}") for i in range(sequential)]
        report(f"sequential ({ref})", seq, time.perf_counter() - start)
        start = time.perf_counter()
        results = await concurrently(client, ref, clients, total, "conc")
        report(f"{clients} concurrent clients", results, time.perf_counter() - start)
        return await account(client, results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url")
    parser.add_argument("--token")
    parser.add_argument("--sequential", type=int, default=300)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--total", type=int, default=1000)
    parser.add_argument("--tracing", action="store_true", help="measure without traces and with them")
    parser.add_argument("--rounds", type=int, default=20, help="with --tracing: alternating rounds the runs are split into")
    args = parser.parse_args()
    if args.url:
        return asyncio.run(measure(args.url, args.token, args.sequential, args.clients, args.total))
    if args.tracing:
        return tracing_overhead(args)
    return run_platform(args)


class _Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that takes every export and keeps nothing but a count."""
    protocol_version = "HTTP/1.1"  # keeps the exporters' connections open, as a collector does
    exports: Any = None  # a multiprocessing.Value, shared with the benchmark

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.exports.get_lock():
            self.exports.value += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def _serve_sink(port: Any, exports: Any) -> None:
    _Sink.exports = exports
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    port.value = server.server_port
    server.serve_forever()


def tracing_overhead(args: argparse.Namespace) -> int:
    """Both platforms run side by side and are measured in alternating rounds (plain first in
    one, traced first in the next), so a change in the machine's speed falls on both alike; each
    idles while the other is measured. The median of the rounds' ratios is the figure to read: a
    round that a burst of other work slowed moves it little. The sink is a process of its own, as
    a collector would be: in this one it would compete with the measuring client."""
    mp = multiprocessing.get_context("fork")  # before any thread or event loop exists
    port, exports = mp.Value("i", 0), mp.Value("i", 0)
    sink = mp.Process(target=_serve_sink, args=(port, exports), daemon=True)
    sink.start()
    while not port.value:
        time.sleep(0.01)
    traced_env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port.value}", "OTEL_BSP_SCHEDULE_DELAY": "500"}
    try:
        with started({}) as plain, started(traced_env) as traced:
            print(f"plain platform: gateway {plain.gateway_url}; traced platform: gateway {traced.gateway_url}, "
                  f"every service exporting its spans over OTLP to 127.0.0.1:{port.value}")
            sides = {"without tracing": plain, "with tracing": traced}
            code = asyncio.run(compare(sides, args))
            print(f"({exports.value} OTLP exports received)")
            return code
    finally:
        sink.terminate()


def cpu_seconds(platform: LocalPlatform) -> dict[str, float]:
    """CPU seconds each of the platform's processes used so far, its workers included."""
    return process_cpu.cpu_seconds({name: proc.pid for name, proc in platform.procs.items()})


async def compare(sides: dict[str, LocalPlatform], args: argparse.Namespace) -> int:
    """The first side is the baseline: each figure of the second is given against it."""
    base, other = list(sides)
    cpu = dict.fromkeys(sides, 0.0)
    refs = {name: publish_echo(p.gateway_url, p.admin_token) for name, p in sides.items()}
    # a platform idles while the other is measured: its connections are dropped before the
    # server's keep-alive timeout (uvicorn's 5 s) can close one under a request being sent
    limits = httpx.Limits(max_connections=args.clients + 5, keepalive_expiry=2.0)
    clients = {name: httpx.AsyncClient(base_url=p.gateway_url, timeout=120, limits=limits)
               for name, p in sides.items()}
    seq: dict[str, list[tuple[float, dict]]] = {name: [] for name in sides}
    conc: dict[str, list[tuple[float, dict]]] = {name: [] for name in sides}
    wall = dict.fromkeys(sides, 0.0)
    ratios: list[tuple[float, float]] = []
    try:
        for name in sides:
            for i in range(20):  # warm the workers and the connections
                await one(clients[name], refs[name], f"warm-{i}")
        n_seq, n_conc = -(-args.sequential // args.rounds), -(-args.total // args.rounds)
        for r in range(args.rounds):
            figures: dict[str, tuple[float, float]] = {}
            for name in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
                s = [await one(clients[name], refs[name], f"seq-{r}-{i}") for i in range(n_seq)]
                start, cpu_before = time.perf_counter(), sum(cpu_seconds(sides[name]).values())
                c = await concurrently(clients[name], refs[name], args.clients, n_conc, f"conc-{r}")
                took = time.perf_counter() - start
                cpu[name] += sum(cpu_seconds(sides[name]).values()) - cpu_before
                seq[name] += s
                conc[name] += c
                wall[name] += took
                figures[name] = (pct([ms for ms, _ in s], 50), len(c) / took)
            (p0, t0), (p1, t1) = figures[base], figures[other]
            ratios.append((p1 / p0, t1 / t0))
        code = 0
        for name in sides:
            print(f"--- {name}")
            report(f"sequential ({refs[name]})", seq[name], sum(ms for ms, _ in seq[name]) / 1000)
            report(f"{args.clients} concurrent clients", conc[name], wall[name])
            code |= await account(clients[name], conc[name])
            print(f"  CPU per run, every process of the platform: {cpu[name] / len(conc[name]) * 1000:.2f} ms")
    finally:
        for client in clients.values():
            await client.aclose()
    print(f"--- {other} against {base} ({args.rounds} alternating rounds)")
    overall = {name: (pct([ms for ms, _ in seq[name]], 50), len(conc[name]) / wall[name]) for name in sides}
    for i, what, unit in ((0, "sequential p50", "ms"), (1, f"throughput, {args.clients} clients", "runs/s")):
        figure, base_figure = overall[other][i], overall[base][i]
        per_round = sorted((r[i] - 1) * 100 for r in ratios)
        print(f"  {what}: {figure:.2f} against {base_figure:.2f} {unit} "
              f"({(figure / base_figure - 1) * 100:+.1f}% overall); "
              f"per round: median {statistics.median(per_round):+.1f}% ({per_round[0]:+.0f}% to {per_round[-1]:+.0f}%)")
    return code


@contextlib.contextmanager
def started(env: dict[str, str], **options: Any) -> Iterator[LocalPlatform]:
    with tempfile.TemporaryDirectory(prefix="feather-bench-") as tmp:
        # the limiter still counts every call (its cost is part of what is measured); only its
        # quotas are raised past what one benchmark sends
        platform = LocalPlatform.on_free_ports(Path(tmp), "ft_" + secrets.token_urlsafe(24), extra_env={
            **{f"FEATHER_RATE_{name}_PER_MIN": "1000000"
               for name in ("ADDRESS", "ANONYMOUS", "ANONYMOUS_RUNS", "USER", "TOKEN", "RUNS")}, **env}, **options)
        try:
            platform.start()
            yield platform
        finally:
            platform.stop()


def run_platform(args: argparse.Namespace) -> int:
    with started({}) as platform:
        print(f"platform: Tansu + 5 service processes, gateway {platform.gateway_url}")
        return asyncio.run(measure(platform.gateway_url, platform.admin_token, args.sequential, args.clients,
                                   args.total))


if __name__ == "__main__":
    sys.exit(main())
