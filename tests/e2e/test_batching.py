"""Runs of a batch step, made by many callers at once, go to the model together through the
real broker and sandbox; each caller gets its own answer, record and file."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import feather
import httpx
import pytest
from publishing import published

MODELS = Path(__file__).resolve().parent / "models"


@pytest.fixture(scope="module")
def batched(client: feather.Client) -> str:
    return published(client, MODELS / "batched" / "app.py")


def test_twenty_callers_at_once_each_get_their_own_answer(client: feather.Client, http: httpx.Client,
                                                           batched: str) -> None:
    def one(i: int) -> feather.Run | feather.RunFailed:
        try:
            return client.run(batched, x=i, name=f"caller {i}", wait=120)
        except feather.RunFailed as exc:
            return exc

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(one, range(20)))
    failed = [a for a in answers if isinstance(a, feather.RunFailed)]
    assert [str(a) for a in failed] == ["ValueError: 13 is unlucky"]  # the bad input fails its run only
    runs = {i: a for i, a in enumerate(answers) if not isinstance(a, feather.RunFailed)}
    assert {i: r.outputs["y"] for i, r in runs.items()} == {i: i * 2 for i in runs}
    sizes = [r.outputs["size"] for r in runs.values()]
    print(f"\nbatch sizes the 19 runs were served in: {sorted(sizes)}")
    assert max(sizes) > 1  # the runs were grouped
    assert len({r.id for r in runs.values()}) == 19
    for i, run in runs.items():
        assert client.download(run.outputs["note"]) == f"for caller {i}".encode()
        record = http.get(f"/v1/runs/{run.id}").json()  # its own record, inputs and timings
        assert record["inputs"]["x"] == i and record["status"] == "succeeded"
        assert record["metrics"]["predict_ms"] > 0
