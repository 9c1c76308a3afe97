"""End-to-end latency of a warm sync run through the gateway, alone and under 20 concurrent clients.

    python bench/run_latency.py                      # starts its own platform in a temp folder
    python bench/run_latency.py --url URL --token T  # measures a running platform
    python bench/run_latency.py --tracing            # without traces, then with them (OTLP to a
                                                     # local sink), and the overhead of tracing

Prints p50/p99 of the whole HTTP call (POST with `Prefer: wait`), the model's own time
(predict_ms), the platform's share, and runs per second; and checks that every run came back.
"""
from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import feather  # noqa: E402
from services.local.platform import LocalPlatform  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


async def one(client: httpx.AsyncClient, ref: str, text: str) -> tuple[float, dict]:
    start = time.perf_counter()
    answer = await client.post(f"/v1/models/{ref}/runs", json={"inputs": {"text": text}},
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


async def measure(url: str, token: str, sequential: int, clients: int, total: int,
                  figures: dict[str, float] | None = None) -> int:
    with feather.Client(url, token=token) as sync_client:
        published = sync_client.publish(str(ROOT / "examples" / "echo" / "app.py"))
        ref = f"{published['owner']}/{published['name']}"
        sync_client.wait_ready(ref, published["version"], timeout=600)
    limits = httpx.Limits(max_connections=clients + 5)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        for i in range(20):  # warm the workers and the connections
            await one(client, ref, f"warm-{i}")
        start = time.perf_counter()
        seq = [await one(client, ref, f"seq-{i}") for i in range(sequential)]
        sequential_figures = report(f"sequential ({ref})", seq, time.perf_counter() - start)

        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(total):
            queue.put_nowait(i)
        results: list[tuple[float, dict]] = []

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                results.append(await one(client, ref, f"conc-{i}"))

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        concurrent_figures = report(f"{clients} concurrent clients", results, time.perf_counter() - start)
        if figures is not None:
            figures.update(p50=sequential_figures["p50"], throughput=concurrent_figures["throughput"])

        ids = [run["id"] for _, run in results]
        # each run read through its own URL: these runs are anonymous, and it holds their token
        final = [(await client.get(run["urls"]["get"])).json()["status"] for _, run in results]
        lost = total - len(set(ids))
        stuck = sum(1 for s in final if s not in ("succeeded", "failed", "canceled", "timed_out"))
        print(f"  accounted for: {len(set(ids))}/{total} runs, lost {lost}, not terminal {stuck}")
        return 0 if lost == 0 and stuck == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url")
    parser.add_argument("--token")
    parser.add_argument("--sequential", type=int, default=300)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--total", type=int, default=1000)
    parser.add_argument("--tracing", action="store_true", help="measure without traces, then with them")
    args = parser.parse_args()
    if args.url:
        return asyncio.run(measure(args.url, args.token, args.sequential, args.clients, args.total))
    if args.tracing:
        return tracing_overhead(args)
    return run_platform(args, {})


class _Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that takes every export and keeps nothing but a count."""
    exports = 0

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).exports += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def tracing_overhead(args: argparse.Namespace) -> int:
    without: dict[str, float] = {}
    with_traces: dict[str, float] = {}
    print("--- without tracing")
    code = run_platform(args, {}, without)
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    print(f"--- with tracing: every service exports its spans over OTLP to 127.0.0.1:{sink.server_port}")
    code |= run_platform(args, {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink.server_port}",
                                "OTEL_BSP_SCHEDULE_DELAY": "500"}, with_traces)
    sink.shutdown()
    print(f"--- overhead of tracing ({_Sink.exports} OTLP exports received)")
    print(f"  sequential p50: {with_traces['p50']:.2f} ms against {without['p50']:.2f} ms "
          f"({(with_traces['p50'] / without['p50'] - 1) * 100:+.1f}%)")
    print(f"  throughput, {args.clients} clients: {with_traces['throughput']:.1f} against {without['throughput']:.1f} "
          f"runs/s ({(with_traces['throughput'] / without['throughput'] - 1) * 100:+.1f}%)")
    return code


def run_platform(args: argparse.Namespace, env: dict[str, str], figures: dict[str, float] | None = None) -> int:
    with tempfile.TemporaryDirectory(prefix="feather-bench-") as tmp:
        # the limiter still counts every call (its cost is part of what is measured); only its
        # quotas are raised past what one benchmark sends
        platform = LocalPlatform.on_free_ports(Path(tmp), "ft_" + secrets.token_urlsafe(24), extra_env={
            **{f"FEATHER_RATE_{name}_PER_MIN": "1000000"
               for name in ("ADDRESS", "ANONYMOUS", "ANONYMOUS_RUNS", "USER", "TOKEN", "RUNS")}, **env})
        try:
            platform.start()
            print(f"platform: Tansu + 5 service processes, gateway {platform.gateway_url}")
            return asyncio.run(measure(platform.gateway_url, platform.admin_token,
                                       args.sequential, args.clients, args.total, figures))
        finally:
            platform.stop()


if __name__ == "__main__":
    sys.exit(main())
