"""Runs per second of a numpy model with and without batching, 20 clients at once.

    python bench/batching.py            # starts its own platform in a temp folder
    python bench/batching.py --rounds 6 --total 1200

The model is a four-layer perceptron (4096 wide, float32: 256 MB of weights) that classifies a vector drawn from
the run's seed. Published twice on one platform, identical but for ``batch=ft.Batch(...)`` on
its step; the two are measured in alternating rounds, so a change in the machine's speed falls
on both alike. Prints each one's runs per second and latency, the batch sizes the batched one
was served in, the speedup (the median of the rounds' ratios), and checks that every run came
back with the answer the model gives when it runs alone.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_latency import account, concurrently, one, pct, publish, started  # noqa: E402

APP = '''import feather as ft



def load():
    import numpy as np
    rng = np.random.default_rng(0)
    return [rng.standard_normal((4096, 4096), dtype=np.float32) / 64 for _ in range(4)]


model = ft.Model("{name}", description="A 4096-wide perceptron on numpy.", requirements=["numpy>=2"], load=load)


@model.step(inputs=[ft.Number("seed")], outputs=[ft.Number("label"), ft.Number("batch")]{batch})
def classify(seed, context):
    import numpy as np
    seeds = seed if isinstance(seed, list) else [seed]
    # one column per run: weights times columns is the layout BLAS does best for few columns
    x = np.stack([np.random.default_rng(int(s)).standard_normal(4096, dtype=np.float32) for s in seeds], axis=1)
    for w in context:
        x = np.maximum(w @ x, 0)
    labels = [(int(i), len(seeds)) for i in x.argmax(axis=0)]
    return labels if isinstance(seed, list) else labels[0]
'''
VARIANTS = {"one at a time": ("mlp", ""), "batched": ("mlp-batched", ", batch=ft.Batch(max_size=32, max_wait_ms=10)")}


def seed_inputs(text: str) -> dict:
    return {"seed": int(text.rsplit("-", 1)[1])}


async def measure(url: str, token: str, folder: Path, args: argparse.Namespace) -> int:
    refs = {}
    for label, (name, batch) in VARIANTS.items():
        app = folder / name / "app.py"
        app.parent.mkdir()
        app.write_text(APP.format(name=name, batch=batch))
        refs[label] = publish(url, token, app)
    print(f"published {', '.join(refs.values())}; {args.clients} clients, {args.total} runs each, "
          f"{args.rounds} alternating rounds")
    limits = httpx.Limits(max_connections=args.clients + 5, keepalive_expiry=2.0)
    results: dict[str, list[tuple[float, dict]]] = {label: [] for label in refs}
    wall = dict.fromkeys(refs, 0.0)
    ratios: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        answers: dict[str, list[int]] = {}
        for label, ref in refs.items():  # warm both versions' workers, one run at a time
            answers[label] = [(await one(client, ref, f"warm-{i}", seed_inputs))[1]["outputs"]["label"]
                              for i in range(10)]
        expected = answers["one at a time"]  # what the model answers for seeds 0 to 9 alone
        code = 0 if answers["batched"] == expected else 1
        per_round = -(-args.total // args.rounds)
        for r in range(args.rounds):
            speed = {}
            for label in (list(refs) if r % 2 == 0 else list(refs)[::-1]):
                start = time.perf_counter()
                got = await concurrently(client, refs[label], args.clients, per_round, f"r{r}", seed_inputs)
                took = time.perf_counter() - start
                results[label] += got
                wall[label] += took
                speed[label] = len(got) / took
            ratios.append(speed["batched"] / speed["one at a time"])
        for label, got in results.items():
            latencies = [ms for ms, _ in got]
            ok = [run for _, run in got if run["status"] == "succeeded"]
            sizes = Counter(run["outputs"]["batch"] for run in ok)
            print(f"--- {label} ({refs[label]})")
            print(f"  {len(got)} runs, {len(ok)} succeeded; {len(got) / wall[label]:7.1f} runs/s; "
                  f"latency p50 {pct(latencies, 50):.1f} ms, p99 {pct(latencies, 99):.1f} ms")
            mean = sum(size * n for size, n in sizes.items()) / max(1, len(ok))
            print(f"  runs by the size of the batch they were in: {dict(sorted(sizes.items()))} (mean {mean:.1f})")
            wrong = sum(1 for _, run in got if run["status"] == "succeeded"
                        and int(run["inputs"]["seed"]) < 10 and run["outputs"]["label"] != expected[int(run["inputs"]["seed"])])
            if wrong or len(ok) != len(got):
                print(f"  {wrong} answers differ from the model's answer alone; {len(got) - len(ok)} runs failed")
                code = 1
            code |= await account(client, got)
    overall = (len(results["batched"]) / wall["batched"]) / (len(results["one at a time"]) / wall["one at a time"])
    print(f"--- batching: {overall:.2f}x the runs per second overall; per round: median "
          f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}x to {max(ratios):.2f}x)")
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--total", type=int, default=600, help="runs of each variant")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    with started({}) as platform, tempfile.TemporaryDirectory(prefix="feather-bench-apps-") as folder:
        print(f"platform: Tansu + 5 service processes, gateway {platform.gateway_url}")
        return asyncio.run(measure(platform.gateway_url, platform.admin_token, Path(folder), args))


if __name__ == "__main__":
    sys.exit(main())
